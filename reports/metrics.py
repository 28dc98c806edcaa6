"""One home for what the reports count: the fact keys the aggregates are written under, and
the won / lost / open selectors over the mirror, in DESIGN.md's order (Metric definitions).

The writer (reports.facts) files every contribution under a key of FACT_KEYS and every
report, drill-down and check reads them by the same names: `grep deal_won` finds both.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q

from crmapp.models import Semantic

# --- won, lost, in work: the deal's (or lead's) semantic now --------------------------------
WON, LOST, OPEN = Semantic.WON, Semantic.LOST, Semantic.OPEN
IS_WON = Q(semantic=WON)
IS_LOST = Q(semantic=LOST)
IS_OPEN = Q(semantic=OPEN)
IS_CLOSED = Q(semantic__in=(WON, LOST))


def won_in(span) -> Q:
    """Won in P: in a won stage now, its latest entry into it inside `span`."""
    return Q(IS_WON, closed_at__range=span)


def lost_in(span) -> Q:
    """Lost in P, dated as won_in."""
    return Q(IS_LOST, closed_at__range=span)


def closed_in(span) -> Q:
    """Won or lost in P (the win rate's denominator)."""
    return Q(IS_CLOSED, closed_at__range=span)


def created_in(span) -> Q:
    """Created in P."""
    return Q(created_at__range=span)


def idle_for(days: int, now: datetime) -> Q:
    """Idle: no touch (activity, stage move, edit) for `days` days up to `now` (the forgotten
    report's test, with the thresholds of Settings)."""
    return Q(last_touch_at__lte=now - timedelta(days=days))


# --- the scope: whose rows, in which pipeline ---------------------------------------------
def of_scope_employees(scope, rows):
    """Leads, deals or activities (a queryset) of the scope's employees, by their
    responsible; everyone's when the scope names none."""
    if scope.employees is None:
        return rows
    return rows.filter(responsible__crm_id__in=scope.employees)


def in_scope_pipeline(scope, rows):
    """Deals (a queryset) of the scope's pipeline, when it names one."""
    if scope.pipeline is None:
        return rows
    return rows.filter(pipeline__crm_id=scope.pipeline)


# --- fact keys (per portal × day × key × employee × pipeline × source × stage) -------------
# won / lost: on the day of the latest entry into the final stage, with the current amount and
# the cycle's seconds; won_long: a win more than LONG_CYCLE after creation.
DEAL_WON, DEAL_LOST, DEAL_WON_LONG = "deal_won", "deal_lost", "deal_won_long"
LEAD_WON, LEAD_LOST, LEAD_WON_LONG = "lead_won", "lead_lost", "lead_won_long"
# in work: the +1 / −1 steps each time the entity starts or stops being open; open_now: the
# state bucket (STATE_DAY) holding what is open now.
DEAL_IN_WORK, DEAL_OPEN_NOW = "deal_in_work", "deal_open_now"
LEAD_IN_WORK, LEAD_OPEN_NOW = "lead_in_work", "lead_open_now"
# created in P (the forgotten report's share, the dynamics' new deals and leads).
DEAL_CREATED, LEAD_CREATED = "deal_created", "lead_created"
# Leads received in P by their status now, and the cohort of them that converted or was lost.
LEAD_RECEIVED = "lead_received"
LEAD_CREATED_WON, LEAD_CREATED_LOST = "lead_created_won", "lead_created_lost"
# stage durations: entries, exits (with the seconds spent) and who sits in a stage now.
DEAL_STAGE_IN, DEAL_STAGE_OUT, DEAL_STAGE_NOW = "deal_stage_in", "deal_stage_out", "deal_stage_now"
LEAD_STAGE_IN, LEAD_STAGE_OUT, LEAD_STAGE_NOW = "lead_stage_in", "lead_stage_out", "lead_stage_now"
# activities that happened in P, by kind (points and the index are weighted sums of these).
ACTIVITY_KEYS = {
    "meeting": "activity_meeting",
    "call": "activity_call",
    "email": "activity_email",
    "task": "activity_task",
    "other": "activity_other",
}

# Completed calls bound to a lead or a deal, on the call's day, for its responsible, filed
# under the owner's source (and the deal's pipeline): the marketing report's calls by source.
OWNER_CALLS = {"lead": "lead_calls", "deal": "deal_calls"}

# The keys of a lead's or a deal's contribution by what it says (reports.facts writes these).
FACT_KEYS = {
    "deal": {
        "created": DEAL_CREATED,
        "won": DEAL_WON,
        "lost": DEAL_LOST,
        "won_long": DEAL_WON_LONG,
        "in_work": DEAL_IN_WORK,
        "open_now": DEAL_OPEN_NOW,
        "stage_in": DEAL_STAGE_IN,
        "stage_out": DEAL_STAGE_OUT,
        "stage_now": DEAL_STAGE_NOW,
    },
    "lead": {
        "created": LEAD_CREATED,
        "received": LEAD_RECEIVED,
        "won": LEAD_WON,
        "lost": LEAD_LOST,
        "won_long": LEAD_WON_LONG,
        "created_won": LEAD_CREATED_WON,
        "created_lost": LEAD_CREATED_LOST,
        "in_work": LEAD_IN_WORK,
        "open_now": LEAD_OPEN_NOW,
        "stage_in": LEAD_STAGE_IN,
        "stage_out": LEAD_STAGE_OUT,
        "stage_now": LEAD_STAGE_NOW,
    },
}


def fact_key(entity_type: str, metric: str) -> str:
    """The key a lead's or deal's `metric` is filed under (KeyError for one never written)."""
    return FACT_KEYS[entity_type][metric]
