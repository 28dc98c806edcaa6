"""Drill-down: the deals, leads or activities behind a number of a report.

Each list is selected by the same definition the number uses (DESIGN.md), so its length is
the number.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from django.db.models import F, Q
from django.utils import timezone

from crmapp.models import Activity, Deal, Lead
from integrations.registry import card_path, card_url
from reports.aggregates import owner_history
from reports.dynamics_drill import DYNAMICS_LISTS, dynamics_drill
from reports.facts import open_steps
from reports.forgotten import (
    IDLE,
    NO_NEXT_STEP,
    deal_items,
    deals_flagged,
    lead_items,
    leads_flagged,
)
from reports.metrics import (
    IS_OPEN,
    closed_in,
    created_in,
    in_scope_pipeline,
    lost_in,
    of_scope_employees,
    won_in,
)
from reports.paging import rows_slice
from reports.quality import COUNTS as QUALITY_COUNTS
from reports.quality import RULES as QUALITY_RULES
from reports.quality import deals_failing
from reports.repeat_sales import repeat_deal_ids
from reports.scope import Scope, entities_selected

ACTIVITY_KINDS = {"calls": "call", "meetings": "meeting", "emails": "email", "tasks": "task",
                  "other": "other"}  # fmt: skip
DEAL_LISTS = {"won_count", "won_sum", "lost_count", "lost_sum", "in_work_count", "in_work_sum",
              "avg_check", "cycle_days", "win_rate", "created_deals", "new_sales",
              "repeat_sales"}  # fmt: skip
FORGOTTEN_LISTS = {"forgotten_deals", "forgotten_deals_sum", "no_next_step_deals",
                   "forgotten_leads"}  # fmt: skip
LEAD_LISTS = {"leads_in_work", "created_leads"}
QUALITY_LISTS = {*QUALITY_COUNTS, *QUALITY_RULES}
WHAT = (
    DEAL_LISTS | FORGOTTEN_LISTS | LEAD_LISTS | QUALITY_LISTS | set(ACTIVITY_KINDS) | DYNAMICS_LISTS
)


def drill(
    scope: Scope,
    what: str,
    *,
    now: datetime | None = None,
    limit: int | None = None,
    offset: int = 0,
    options: Mapping | None = None,
) -> dict:
    """`{"kind", "total", "rows"}`: all `total` entities behind the number, or the slice
    `offset`, `limit` of them (cut in SQL: a year's total on a big portal is 100k rows).
    `options` name a cell of a table that has more than an employee (a stage, an age)."""
    if what not in WHAT:
        raise ValueError(f"nothing to list for {what!r}")
    now = now or timezone.now()
    page = {"limit": limit, "offset": offset}
    if what in DYNAMICS_LISTS:
        return dynamics_drill(scope, what, options or {}, now=now, **page)
    if what in ACTIVITY_KINDS:
        rows = _activities(scope, ACTIVITY_KINDS[what])
        return listing_of("activities", rows, activity_rows(scope, rows_slice(rows, **page)))
    if what in QUALITY_LISTS:
        # ValueError for a rule switched off in Settings: it counts nothing.
        rows = deals_failing(scope, what, now=now).order_by("-crm_id")
        return listing_of("deals", rows, entity_rows(scope, Deal, rows_slice(rows, **page)))
    if what == "forgotten_leads":
        rows = leads_flagged(scope, now=now)
        items = lead_items(scope, rows, now=now, **page)
        return listing_of("leads", rows, _forgotten_rows(scope, items, "lead"))
    if what in FORGOTTEN_LISTS:
        reason = NO_NEXT_STEP if what == "no_next_step_deals" else IDLE
        rows = deals_flagged(scope, now=now, reasons=(reason,))
        items = deal_items(scope, rows, now=now, **page)
        return listing_of("deals", rows, _forgotten_rows(scope, items, "deal"))
    model, kind = (Lead, "leads") if what in LEAD_LISTS else (Deal, "deals")
    rows = _entities(scope, model)
    start, end = scope.span()
    if what.startswith("created"):
        rows = rows.filter(created_in((start, end)))
    elif what.startswith("lost"):
        rows = rows.filter(lost_in((start, end)))
    elif what.endswith("in_work") or what.startswith("in_work"):
        rows = _open_at(scope, model, rows, end, now)
    elif what in ("new_sales", "repeat_sales"):
        repeat = repeat_deal_ids(scope)
        rows = rows.filter(won_in((start, end)))
        rows = (
            rows.filter(crm_id__in=repeat)
            if what == "repeat_sales"
            else rows.exclude(crm_id__in=repeat)
        )
    elif what == "win_rate":  # the ratio's denominator: the won and the lost, each marked
        rows = rows.filter(closed_in((start, end)))
    else:  # won count and sum, average check, cycle
        rows = rows.filter(won_in((start, end)))
    order = ("-semantic",) if what == "win_rate" else ()  # the won before the lost
    rows = rows.order_by(*order, "-amount", "crm_id")
    return listing_of(kind, rows, entity_rows(scope, model, rows_slice(rows, **page)))


def listing_of(kind: str, rows, items: list[dict]) -> dict:
    return {"kind": kind, "total": rows.count(), "rows": items}


def _entities(scope: Scope, model):
    rows = entities_selected(scope, model.objects.for_portal(scope.portal))
    return in_scope_pipeline(scope, rows) if model is Deal else rows


def _open_at(scope: Scope, model, rows, end: datetime, now: datetime):
    """Entities open at `end`, reconstructed from their stage history as the aggregates do."""
    if end >= now:
        return rows.filter(IS_OPEN)
    entity_type = "deal" if model is Deal else "lead"
    candidates = list(
        rows.filter(created_at__lte=end)
        .filter(IS_OPEN | Q(closed_at__gt=end) | Q(modified_at__gt=end))
        .values("crm_id", "semantic", "created_at", "closed_at", "moved_at", "modified_at")
    )
    # The same history, in the same order, as the aggregates the number came from.
    history = owner_history(scope.portal, entity_type, [row["crm_id"] for row in candidates])
    open_ids = [
        row["crm_id"]
        for row in candidates
        if sum(step for when, step in open_steps(row, history[row["crm_id"]]) if when <= end) > 0
    ]
    return rows.filter(crm_id__in=open_ids)


def entity_rows(scope: Scope, model, rows) -> list[dict]:
    entity_type = "deal" if model is Deal else "lead"
    stage = "stage__name" if model is Deal else "status__name"
    values = rows.values(
        "crm_id", "title", "amount", "created_at", "closed_at", "semantic",
        responsible_name=F("responsible__name"), stage_name=F(stage),
    )  # fmt: skip
    return [
        {
            "id": str(row["crm_id"]),
            "title": row["title"],
            "responsible": row["responsible_name"] or "—",
            "stage": row["stage_name"] or "",
            "state": row["semantic"],
            "amount": round(float(row["amount"]), 2),
            "created_at": row["created_at"],
            "closed_at": row["closed_at"],
            "url": card_url(scope.portal, entity_type, row["crm_id"]),
            "path": card_path(scope.portal, entity_type, row["crm_id"]),
        }
        for row in values
    ]


def _forgotten_rows(scope: Scope, items: list[dict], entity_type: str) -> list[dict]:
    return [
        {
            "id": item["id"],
            "title": item["title"],
            "responsible": item["responsible_name"] or "—",
            "stage": item.get("stage_name", item.get("status_name", "")),
            "amount": item.get("amount"),
            "idle_days": item["idle_days"],
            "url": item["url"],
            "path": card_path(scope.portal, entity_type, item["id"]),
        }
        for item in items
    ]


def _activities(scope: Scope, kind: str):
    rows = Activity.objects.for_portal(scope.portal).filter(
        kind=kind, completed=True, completed_at__range=scope.span()
    )
    return of_scope_employees(scope, rows).order_by("-completed_at", "crm_id")


def activity_rows(scope: Scope, rows) -> list[dict]:
    values = rows.values(
        "crm_id", "subject", "completed_at", "owner_type", "owner_crm_id",
        responsible_name=F("responsible__name"),
    )  # fmt: skip
    return [
        {
            "id": str(row["crm_id"]),
            "title": row["subject"],
            "responsible": row["responsible_name"] or "—",
            "completed_at": row["completed_at"],
            "url": card_url(scope.portal, row["owner_type"], row["owner_crm_id"]),
            "path": card_path(scope.portal, row["owner_type"], row["owner_crm_id"]),
        }
        for row in values
    ]
