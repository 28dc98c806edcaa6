""" "Suggest from the sales plan" (REPORTS.md "Activity plan"): for an employee with a won-count
plan, each activity plan = his won plan × that activity per won deal over the last three full
months, rounded up (a plan that asks for less than the ratio would not make the sales)."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q

from crmapp.models import Portal
from reports.models import ALL_PIPELINES, Plan, PlanLevel, PlanMetric, ReportSettings
from reports.people import employee_labels
from reports.plan_edit import plan_set
from reports.plan_input import Cell, PlanError, month_add
from reports.plan_numbers import FACT_OF, fact_rows
from reports.rollup import facts_summed
from reports.scope import PlanRights

SUGGESTED = (PlanMetric.DEALS_CREATED, PlanMetric.CALLS, PlanMetric.MEETINGS,
             PlanMetric.STAGE_REACHED)  # fmt: skip
LOOKBACK_MONTHS = 3


def suggested_metrics(portal: Portal) -> tuple[str, ...]:
    """The activity metrics to suggest: a stage is reached only once the admin names one."""
    if ReportSettings.of(portal).plan_stages:
        return SUGGESTED
    return tuple(metric for metric in SUGGESTED if metric != PlanMetric.STAGE_REACHED)


def plan_suggest(portal: Portal, *, month: date, rights: PlanRights, now: datetime) -> dict:
    """{"month", "from", "to", "metrics", "rows": [{"id", "name", "won_plan", "won", "metrics":
    [{"metric", "per_won", "proposed", "current"}]}]} for the employees the editor may plan
    who have a won-count plan in `month` (all pipelines). `per_won` and `proposed` are None
    without a won deal in the three months."""
    suggested = suggested_metrics(portal)
    this_month = now.astimezone(ZoneInfo(portal.time_zone)).date().replace(day=1)
    first, last = month_add(this_month, -LOOKBACK_MONTHS), this_month - timedelta(days=1)
    won_plans = {
        target: value
        for target, value in Plan.objects.for_portal(portal)
        .filter(month=month, level=PlanLevel.EMPLOYEE, pipeline_crm_id=ALL_PIPELINES,
                metric=PlanMetric.WON_COUNT, value__gt=0)
        .values_list("target_crm_id", "value")
        if rights.allows(PlanLevel.EMPLOYEE, target)
    }  # fmt: skip
    facts = facts_summed(
        portal, start=first, end=last, keys=("employee_crm_id", "metric"),
        where=fact_rows(portal, (PlanMetric.WON_COUNT, *suggested))
        & Q(employee_crm_id__in=list(won_plans)),
    )  # fmt: skip
    current = {
        (target, metric): value
        for target, metric, value in Plan.objects.for_portal(portal)
        .filter(month=month, level=PlanLevel.EMPLOYEE, pipeline_crm_id=ALL_PIPELINES,
                metric__in=suggested, target_crm_id__in=list(won_plans))
        .values_list("target_crm_id", "metric", "value")
    }  # fmt: skip
    names = employee_labels(portal, won_plans)
    rows = []
    for crm_id in sorted(won_plans, key=lambda c: (names.get(c, "").casefold(), c)):
        won = facts.get((crm_id, FACT_OF[PlanMetric.WON_COUNT]), [0])[0]
        metrics = []
        for metric in suggested:
            done = facts.get((crm_id, FACT_OF[metric]), [0])[0]
            ratio = done / won if won else None
            metrics.append({
                "metric": metric,
                "per_won": round(ratio, 2) if ratio is not None else None,
                "proposed": math.ceil(won_plans[crm_id] * ratio) if ratio is not None else None,
                "current": current.get((crm_id, metric)),
            })  # fmt: skip
        rows.append({"id": crm_id, "name": names.get(crm_id, str(crm_id)),
                     "won_plan": won_plans[crm_id], "won": won, "metrics": metrics})  # fmt: skip
    return {"month": month, "from": first, "to": last, "metrics": suggested, "rows": rows}


@transaction.atomic
def plan_suggest_save(
    portal: Portal,
    *,
    month: date,
    values: dict[tuple[int, str], int | None],
    rights: PlanRights,
    by: int | None,
    now: datetime,
) -> int:
    """The (edited) suggestions as plans, all or none; returns how many cells changed.
    PermissionError for an employee the editor may not plan."""  # fmt: skip
    for (target, metric), _value in values.items():
        if metric not in SUGGESTED:
            raise PlanError(f"not an activity metric: {metric}")
        if not rights.allows(PlanLevel.EMPLOYEE, target):
            raise PermissionError(target)
    return sum(
        plan_set(portal, cell=Cell(month, PlanLevel.EMPLOYEE, target, ALL_PIPELINES, metric),
                 value=value, by=by, now=now)
        for (target, metric), value in values.items()
    )  # fmt: skip
