"""Today in this month against the plan (DESIGN.md "day plan", "pace"), by employee."""

from __future__ import annotations

import calendar
from collections import defaultdict
from datetime import date, timedelta

from django.db.models import Sum

from reports.models import UNPIPELINED_METRICS, DayFact, PlanLevel, PlanMetric
from reports.people import report_people
from reports.plan_fact import plan_fact
from reports.plan_input import plan_value_show
from reports.plan_numbers import ALL, PlanNumbers, fact_rows, plan_figures
from reports.scope import Scope

# One good day is not a pace: on day 2 a single sale read "pace 1 100 %" in big green.
PACE_FROM_WORKING_DAY = 3


def working_days(month: date) -> list[date]:
    """Monday to Friday of the month (DESIGN.md "day plan")."""
    days = calendar.monthrange(month.year, month.month)[1]
    return [
        day
        for day in (month + timedelta(days=offset) for offset in range(days))
        if day.weekday() < 5
    ]


def plan_today(
    scope: Scope, metric: str, *, today: date, data: dict | None = None, people: bool = True
) -> dict:
    """Today in this month, by employee: the month's plan, the day plan, the fact today and
    so far, completion, pace (the fact so far against the plan for the working days gone)
    and the bonus. `scope` must cover this month (its first day to today); `data`, the
    scope's `plan_fact` when the caller reads several metrics; without `people`, only the
    totals (the ranking's participants are a read of their own)."""
    month = today.replace(day=1)
    days = working_days(month)
    elapsed = sum(1 for day in days if day <= today)
    paced = elapsed >= PACE_FROM_WORKING_DAY
    data = data or plan_fact(scope, split=False)
    key = scope.pipeline if scope.pipeline is not None else ALL
    today_won: dict[int, tuple[int, int]] = defaultdict(lambda: (0, 0))
    rows = DayFact.objects.for_portal(scope.portal).filter(
        fact_rows(scope.portal, [metric]), day=today
    )
    if scope.employees is not None:
        rows = rows.filter(employee_crm_id__in=scope.employees)
    if scope.pipeline is not None and metric not in UNPIPELINED_METRICS:
        rows = rows.filter(pipeline_crm_id=scope.pipeline)
    for row in rows.values("employee_crm_id").annotate(qty=Sum("qty"), cents=Sum("amount_cents")):
        today_won[row["employee_crm_id"]] = (row["qty"], row["cents"])

    def figures(numbers: PlanNumbers, fact_today: tuple[int, int]) -> dict:
        plan_value = numbers.plan[metric]
        today_value = fact_today[1] if metric == PlanMetric.WON_SUM else fact_today[0]
        expected = plan_value * elapsed / len(days) if plan_value and paced else 0
        return plan_figures(numbers, metric) | {
            "day_plan": plan_value_show(metric, plan_value / len(days))
            if plan_value is not None
            else None,
            "fact_today": plan_value_show(metric, today_value),
            "pace": round(100 * numbers.planned[metric] / expected, 2) if expected else None,
        }

    employees = _ranking(scope, metric, data, month, key, figures, today_won) if people else []
    totals_today = (sum(q for q, _c in today_won.values()), sum(c for _q, c in today_won.values()))
    return {
        "day": today.isoformat(),
        "metric": metric,
        "working_days": len(days),
        "elapsed_working_days": elapsed,
        "pace_from_working_day": PACE_FROM_WORKING_DAY,
        "employees": employees,
        "totals": figures(data["totals"].get(month, PlanNumbers()), totals_today),
    }


def _ranking(scope: Scope, metric: str, data: dict, month, key, figures, today_won) -> list:
    """The month's employees with their figures, the best first."""
    mine = [
        (crm_id, numbers)
        for m, level, crm_id, pipeline, numbers in data["entries"]
        if m == month and level == PlanLevel.EMPLOYEE and pipeline == key
    ]
    # The ranking is of those who take part (Settings); a plan makes anyone take part.
    shown = report_people(
        scope, {c for c, n in mine if n.fact(metric) or any(v is not None for v in n.plan.values())}
    )
    employees = [
        {"id": str(crm_id), "name": shown[crm_id]} | figures(numbers, today_won[crm_id])
        for crm_id, numbers in mine
        if crm_id in shown
    ]
    employees.sort(key=lambda row: (-(row["fact"] or 0), row["name"]))
    return employees
