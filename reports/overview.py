"""The overview: the head of sales' morning screen (and a manager's, for himself).

Every figure is read from the report it links to, for the scope and period that report opens
with, so the overview can never say one number and the report another: the plan this month
(plan_fact, read once for both metrics), won today and yesterday (efficiency's totals of
what happened) and the activity index (efficiency, from the aggregates), the forgotten
leads and deals (forgotten, its default period), the data-quality errors (quality, this
month).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from crmapp.models import Portal
from reports.efficiency import efficiency, happened_totals
from reports.forgotten import forgotten
from reports.models import PlanMetric
from reports.plan_fact import plan_fact
from reports.plan_today import plan_today
from reports.quality import quality
from reports.read_once import read_once
from reports.scope import Viewer, default_period, period_preset, scope_resolve

RANKED = 3  # the top and the bottom three
PLAN_METRICS = (PlanMetric.WON_SUM, PlanMetric.WON_COUNT)
# Today beside yesterday: what moved since the morning before.
CHANGES = ("won_count", "won_sum", "lost_count", "calls", "meetings")


def overview(portal: Portal, viewer: Viewer, *, now: datetime) -> dict:
    """What the viewer may see, as {"today", "yesterday", "working_days",
    "elapsed_working_days", "pace_from_working_day", "plan": {won_sum | won_count: today's
    plan totals}, "day": [(metric, its plan totals)] of every plan metric, "won": {"today" |
    "yesterday": {"count", "sum"}}, "changes": [{"column", "today", "yesterday", "change"}],
    "forgotten": {"deals", "deals_sum", "leads", "from"}, "quality": {"deals", "checked"} or
    None with every rule off, "completion" and "activity": {"top", "bottom"}, "people"}."""
    with read_once():  # its four reports read the settings, sellers and names once
        return _overview(portal, viewer, now=now)


def _overview(portal: Portal, viewer: Viewer, *, now: datetime) -> dict:
    today = now.astimezone(ZoneInfo(portal.time_zone)).date()
    yesterday = today - timedelta(days=1)

    def scope(start: date, end: date):
        return scope_resolve(portal, viewer, start=start, end=end, now=now)

    month = scope(*period_preset("month", today))
    data = plan_fact(month, split=False)
    # Only the money's ranking is shown (top and bottom); the other metrics give their totals.
    plans = {
        metric: plan_today(
            month, metric, today=today, data=data, people=metric == PlanMetric.WON_SUM
        )
        for metric in PlanMetric
    }
    days = {key: happened_totals(scope(day, day)) for key, day in
            (("today", today), ("yesterday", yesterday))}  # fmt: skip
    this_month = efficiency(month)
    forgotten_scope = scope(*period_preset(default_period("forgotten"), today))
    lost = forgotten(forgotten_scope, now=now, limit=0)["by_employee"]
    errors = quality(month, now=now, limit=0)
    money = plans[PlanMetric.WON_SUM]
    return {
        "today": today,
        "yesterday": yesterday,
        "working_days": money["working_days"],
        "elapsed_working_days": money["elapsed_working_days"],
        "pace_from_working_day": money["pace_from_working_day"],
        "plan": {metric: plans[metric]["totals"] for metric in PLAN_METRICS},
        # The day of every plan metric: what the team (or he) had to do today, and did.
        "day": [(metric, plans[metric]["totals"]) for metric in PlanMetric],
        "won": {
            key: {"count": totals["won_count"], "sum": totals["won_sum"]}
            for key, totals in days.items()
        },
        "changes": [
            {
                "column": column,
                "today": days["today"][column],
                "yesterday": days["yesterday"][column],
                "change": round(days["today"][column] - days["yesterday"][column], 2),
            }
            for column in CHANGES
        ],
        "forgotten": {
            "deals": sum(row["forgotten_deals"] for row in lost),
            "deals_sum": round(sum(row["forgotten_deals_sum"] for row in lost), 2),
            "leads": sum(row["forgotten_leads"] for row in lost),
            "from": forgotten_scope.start,
        },
        "quality": {
            "deals": errors["deals_total"],
            "checked": sum(row["checked"] for row in errors["employees"]),
        }
        if errors["rules"]
        else None,
        "completion": _ranked(
            [row for row in money["employees"] if row["completion"] is not None], "completion"
        ),
        "activity": _ranked(
            [row for row in this_month["employees"] if row["activity_index"] is not None],
            "activity_index",
        ),
        "people": len(this_month["employees"]),
    }


def _ranked(rows: list[dict], key: str) -> dict:
    """The best three and, below them, the worst three (none counted twice), each as
    {"id", "name", "value"}."""
    ordered = sorted(rows, key=lambda row: (-row[key], row["name"]))
    picked = [{"id": row["id"], "name": row["name"], "value": row[key]} for row in ordered]
    top = picked[:RANKED]
    bottom = picked[max(RANKED, len(picked) - RANKED) :][::-1]
    return {"top": top, "bottom": bottom}
