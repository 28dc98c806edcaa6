"""Plan vs fact (DESIGN.md "plan", "bonus", "repeat sale"): pure functions from a Scope to
plain data, read from the plans, the daily aggregates and (repeat sales) the mirror.

`plan` is the report of the catalog (CLI, API, export): one row per month × employee or
department × pipeline (None = all) × metric. The page reads the same numbers summed over the
period (`plan_period`), today's pace (`plan_today`) and completion month to month
(`plan_dynamics`).
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from datetime import date, timedelta

from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils.translation import gettext as _

from crmapp.models import Deal, Department, Employee, Pipeline, Stage
from reports.efficiency import in_work, period_bucket, period_buckets, period_label
from reports.facts import cents as amount_cents
from reports.labels import column_label
from reports.metrics import (
    ACTIVITY_KEYS,
    DEAL_CREATED,
    DEAL_STAGE_IN,
    DEAL_WON,
    IS_WON,
    in_scope_pipeline,
    of_scope_employees,
    won_in,
)
from reports.models import (
    ALL_PIPELINES,
    NO_EMPLOYEE,
    NO_PIPELINE,
    UNPIPELINED_METRICS,
    DayFact,
    Plan,
    PlanLevel,
    PlanMetric,
    ReportSettings,
)
from reports.people import employee_labels, report_people
from reports.plans import bonus_earned, bonus_rules, month_start, plan_value_show
from reports.rollup import facts_summed, facts_where
from reports.scope import Scope

METRICS = tuple(PlanMetric)
# The aggregate each plan metric's fact is counted from (REPORTS.md "Activity plan").
FACT_OF = {
    PlanMetric.WON_SUM: DEAL_WON,
    PlanMetric.WON_COUNT: DEAL_WON,
    PlanMetric.DEALS_CREATED: DEAL_CREATED,
    PlanMetric.CALLS: ACTIVITY_KEYS["call"],
    PlanMetric.MEETINGS: ACTIVITY_KEYS["meeting"],
    PlanMetric.STAGE_REACHED: DEAL_STAGE_IN,
}
COUNTED = {fact: metric for metric, fact in FACT_OF.items() if fact != DEAL_WON}
ALL = None  # the pipeline key of "all pipelines" in the report's rows
# One good day is not a pace: on day 2 a single sale read "pace 1 100 %" in big green.
PACE_FROM_WORKING_DAY = 3


class _Numbers:
    """Plan, won, repeat, the counted activity and bonus of one month × target × pipeline
    key.

    `planned` is the part of the fact that a plan covers: a total whose plan is typed for
    only some of its people is completed by their fact, not by everyone's (a company plan
    of one department against the whole company's sales read 2 240 %)."""

    __slots__ = ("bonus", "counted", "plan", "planned", "repeat_cents", "repeat_qty",
                 "won_cents", "won_qty")  # fmt: skip

    def __init__(self) -> None:
        self.plan: dict[str, int | None] = dict.fromkeys(METRICS)
        self.planned: dict[str, int] = dict.fromkeys(METRICS, 0)
        self.bonus: dict[str, int | None] = dict.fromkeys(METRICS)
        self.counted: dict[str, int] = dict.fromkeys(COUNTED.values(), 0)
        self.won_qty = self.won_cents = self.repeat_qty = self.repeat_cents = 0

    def add(self, other: _Numbers, *, plans: bool = True) -> None:
        for metric in METRICS:
            if plans:
                self.plan_add(other, metric)
            self.bonus[metric] = _add(self.bonus[metric], other.bonus[metric])
        self.won_qty += other.won_qty
        self.won_cents += other.won_cents
        self.repeat_qty += other.repeat_qty
        self.repeat_cents += other.repeat_cents
        for metric, qty in other.counted.items():
            self.counted[metric] += qty

    def plan_add(self, other: _Numbers, metric: str) -> None:
        self.plan[metric] = _add(self.plan[metric], other.plan[metric])
        self.planned[metric] += other.planned[metric]

    def plan_type(self, metric: str, value: int) -> None:
        """A plan typed for this target itself: it covers all of its fact."""
        self.plan[metric] = value
        self.planned[metric] = self.fact(metric)

    def fact(self, metric: str) -> int:
        if metric in self.counted:
            return self.counted[metric]
        return self.won_cents if metric == PlanMetric.WON_SUM else self.won_qty

    def won_add(self, qty: int, cents: int) -> None:
        self.won_qty += qty
        self.won_cents += cents

    def counted_add(self, counts: dict[str, int]) -> None:
        for metric, qty in counts.items():
            self.counted[metric] += qty

    def repeat(self, metric: str) -> int:
        return self.repeat_cents if metric == PlanMetric.WON_SUM else self.repeat_qty


def _add(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else a + b


def plan_fact(scope: Scope) -> dict:
    """Every month × target × pipeline key of the scope with its numbers.

    entries: [(month, level, crm id, pipeline key, _Numbers)]; totals: {month: _Numbers},
    the scope as a whole (its top departments' plans and everyone's facts)."""
    portal, months = scope.portal, period_buckets(scope.start, scope.end, "month")
    employees = Employee.objects.for_portal(portal)
    if scope.employees is not None:
        employees = employees.filter(crm_id__in=scope.employees)
    people = {e.crm_id: e for e in employees.select_related("department")}
    won, repeat, counted = _won(scope), _repeat(scope), _counted(scope)
    plans: dict[tuple, int] = {}
    planned_pipelines: dict[tuple, set] = defaultdict(set)
    plan_rows = Plan.objects.for_portal(portal).filter(month__in=months)
    if scope.pipeline is not None:
        plan_rows = plan_rows.filter(pipeline_crm_id=scope.pipeline)
    for month, level, target, pipeline, metric, value in plan_rows.values_list(
        "month", "level", "target_crm_id", "pipeline_crm_id", "metric", "value"
    ):
        key = ALL if pipeline == ALL_PIPELINES else pipeline
        plans[(month, level, target, key, metric)] = value
        planned_pipelines[(month, level, target)].add(key)
    rules = bonus_rules(portal)

    def pipeline_keys(month: date, level: str, target: int, members: list[int]) -> list:
        if scope.pipeline is not None:
            return [scope.pipeline]
        keys = planned_pipelines[(month, level, target)].copy()
        for member in members:
            keys |= set(won.get((month, member), ()))
            keys |= set(counted.get((month, member), ())) - {NO_PIPELINE}
        return [ALL, *sorted(key for key in keys if key is not ALL)]

    def person(month: date, crm_id: int, pipeline) -> _Numbers:
        numbers = _Numbers()
        for p, (qty, cents) in won.get((month, crm_id), {}).items():
            if pipeline is ALL or p == pipeline:
                numbers.won_add(qty, cents)
        for p, counts in counted.get((month, crm_id), {}).items():
            if pipeline is ALL or p == pipeline:
                numbers.counted_add(counts)
        for p, (qty, cents) in repeat.get((month, crm_id), {}).items():
            if pipeline is ALL or p == pipeline:
                numbers.repeat_qty += qty
                numbers.repeat_cents += cents
        for metric in METRICS:
            plan = plans.get((month, PlanLevel.EMPLOYEE, crm_id, pipeline, metric))
            if plan is not None:
                numbers.plan_type(metric, plan)
            numbers.bonus[metric] = bonus_earned(
                rules.get(metric), plan=plan, fact=numbers.fact(metric)
            )
        return numbers

    departments = _departments(scope, people) if scope.filters.get("employee") is None else []
    active = {
        crm_id
        for crm_id, employee in people.items()
        if employee.active
        or any((m, crm_id) in won for m in months)
        or any((m, PlanLevel.EMPLOYEE, crm_id) in planned_pipelines for m in months)
    }
    listed = sorted(active, key=lambda crm_id: (people[crm_id].name, crm_id))
    entries, totals = [], {}
    for month in months:
        first = len(entries)
        numbers: dict[tuple[int, object], _Numbers] = {}
        for crm_id in listed:
            for pipeline in pipeline_keys(month, PlanLevel.EMPLOYEE, crm_id, [crm_id]):
                numbers[(crm_id, pipeline)] = found = person(month, crm_id, pipeline)
                entries.append((month, PlanLevel.EMPLOYEE, crm_id, pipeline, found))
        found_departments: dict[tuple[int, object], _Numbers] = {}
        # Children first: a department's plan is its own typed plan, else its direct
        # employees' plans plus its sub-departments' (each typed or summed the same way).
        for department, members in _children_first(departments):
            for pipeline in pipeline_keys(month, PlanLevel.DEPARTMENT, department.crm_id, members):
                total = _Numbers()
                for member in members:
                    own = numbers.get((member, pipeline)) or person(month, member, pipeline)
                    total.add(own, plans=people[member].department_id == department.pk)
                for child, _members in departments:
                    if child.parent_id == department.pk:
                        below = found_departments.get((child.crm_id, pipeline))
                        for metric in METRICS:
                            if below:
                                total.plan_add(below, metric)
                for metric in METRICS:
                    explicit = plans.get(
                        (month, PlanLevel.DEPARTMENT, department.crm_id, pipeline, metric)
                    )
                    if explicit is not None:
                        total.plan_type(metric, explicit)
                found_departments[(department.crm_id, pipeline)] = total
        for department, members in departments:
            for pipeline in pipeline_keys(month, PlanLevel.DEPARTMENT, department.crm_id, members):
                total = found_departments[(department.crm_id, pipeline)]
                entries.append((month, PlanLevel.DEPARTMENT, department.crm_id, pipeline, total))
        totals[month] = _scope_total(
            month, scope, entries[first:], departments, numbers, (won, counted)
        )
    return {
        "months": months,
        "entries": entries,
        "totals": totals,
        "people": people,
        "departments": departments,
    }


def _scope_total(month, scope, entries, departments, numbers, facts) -> _Numbers:
    """The plan of the top departments shown plus that of everyone outside them; the fact
    of everyone in scope (with deals nobody is responsible for, when the scope is all).
    `entries` are the month's."""
    key = scope.pipeline if scope.pipeline is not None else ALL
    parents = {
        department.crm_id: department.parent.crm_id if department.parent_id else None
        for department, _members in departments
    }
    covered = {member for _department, members in departments for member in members}
    total = _Numbers()
    for (crm_id, pipeline), person in numbers.items():
        if pipeline == key:
            total.add(person, plans=crm_id not in covered)
    for _month, level, crm_id, pipeline, found in entries:
        if level == PlanLevel.DEPARTMENT and pipeline == key:
            if parents[crm_id] not in parents:
                for metric in METRICS:
                    total.plan_add(found, metric)
    if scope.employees is None:
        won, counted = facts
        for p, (qty, cents) in won.get((month, NO_EMPLOYEE), {}).items():
            if key is ALL or p == key:
                total.won_add(qty, cents)
        for p, counts in counted.get((month, NO_EMPLOYEE), {}).items():
            if key is ALL or p == key:
                total.counted_add(counts)
    return total


def _children_first(departments: list[tuple[Department, list]]) -> list[tuple[Department, list]]:
    """`departments` ordered so that every sub-department comes before its parent."""
    by_pk = {department.pk: department for department, _members in departments}

    def depth(department: Department) -> int:
        levels, parent_pk = 0, department.parent_id
        while parent_pk in by_pk and levels < len(by_pk):
            levels, parent_pk = levels + 1, by_pk[parent_pk].parent_id
        return levels

    return sorted(departments, key=lambda pair: -depth(pair[0]))


def _departments(scope: Scope, people: dict[int, Employee]) -> list[tuple[Department, list]]:
    """Departments wholly in scope, in the CRM's order, with their (sub-)employees' ids."""
    rows = list(
        Department.objects.for_portal(scope.portal)
        .select_related("parent")
        .order_by("sort", "name")
    )
    children: dict[int, list[int]] = defaultdict(list)
    for department in rows:
        if department.parent_id:
            children[department.parent.crm_id].append(department.crm_id)
    direct: dict[int, list[int]] = defaultdict(list)
    everyone = Employee.objects.for_portal(scope.portal).filter(department__isnull=False)
    for crm_id, department in everyone.values_list("crm_id", "department__crm_id"):
        direct[department].append(crm_id)

    def members(crm_id: int, seen: frozenset = frozenset()) -> list[int]:
        ids = list(direct[crm_id])
        for child in children[crm_id]:
            if child not in seen:
                ids += members(child, seen | {crm_id})
        return ids

    result = []
    for department in rows:
        ids = members(department.crm_id)
        if ids and all(crm_id in people for crm_id in ids):
            result.append((department, ids))
    return result


def _won(scope: Scope) -> dict[tuple[date, int], dict[int, tuple[int, int]]]:
    """{(month, employee): {pipeline: (count, cents)}} won, from the aggregates."""
    totals = facts_summed(
        scope.portal, start=scope.start, end=scope.end,
        where=facts_where(scope, [DEAL_WON]),
        keys=("employee_crm_id", "pipeline_crm_id"), by_month=True,
    )  # fmt: skip
    won: dict[tuple[date, int], dict[int, tuple[int, int]]] = defaultdict(dict)
    for (month, employee, pipeline), (qty, cents, _seconds) in totals.items():
        if qty or cents:
            won[(month_start(month), employee)][pipeline] = (qty, cents)
    return dict(won)


def fact_rows(portal, metrics) -> Q:
    """The aggregate rows the facts of these plan metrics are counted from: a stage entry
    counts only for the stage its pipeline's "reached the stage" plan names (Settings)."""
    where = Q(metric__in=[FACT_OF[m] for m in metrics if m != PlanMetric.STAGE_REACHED])
    if PlanMetric.STAGE_REACHED in metrics:
        named = Q(pk__in=[])  # no stage named: nothing is reached
        for pipeline, stage in ReportSettings.of(portal).plan_stages.items():
            named |= Q(pipeline_crm_id=int(pipeline), stage_crm_id=stage)
        where |= Q(metric=FACT_OF[PlanMetric.STAGE_REACHED]) & named
    return where


def plan_metric_labels(portal) -> dict[str, str]:
    """Each plan metric in words; the stage metric by the stages it counts ("Reached: Booking")
    once the admin has named them."""
    labels = {metric: str(column_label(metric)) for metric in PlanMetric.values}
    named = ReportSettings.of(portal).plan_stages
    if named:
        wanted = Q(pk__in=[])
        for pipeline, stage in named.items():
            wanted |= Q(pipeline__crm_id=int(pipeline), crm_id=stage)
        stages = Stage.objects.for_portal(portal).filter(wanted, entity_type="deal")
        names = sorted({name for name in stages.values_list("name", flat=True)})
        if names:
            labels[PlanMetric.STAGE_REACHED] = _("Reached: %(stages)s") % {
                "stages": ", ".join(names)
            }
    return labels


def _counted(scope: Scope) -> dict[tuple[date, int], dict[int, dict[str, int]]]:
    """{(month, employee): {pipeline: {plan metric: count}}} of the counted plan metrics
    (deals created, calls, meetings, the named stages reached), from the aggregates;
    activities are NO_PIPELINE's."""
    totals = facts_summed(
        scope.portal, start=scope.start, end=scope.end,
        where=facts_where(scope, list(COUNTED)) & fact_rows(scope.portal, COUNTED.values()),
        keys=("employee_crm_id", "pipeline_crm_id", "metric"), by_month=True,
    )  # fmt: skip
    counted: dict[tuple[date, int], dict[int, dict[str, int]]] = defaultdict(dict)
    for (month, employee, pipeline, fact), (qty, _cents, _seconds) in totals.items():
        if qty:
            by_pipeline = counted[(month_start(month), employee)]
            by_pipeline.setdefault(pipeline, {})[COUNTED[fact]] = qty
    return dict(counted)


def won_deals(scope: Scope):
    """The won deals of the scope: in a won stage, last won in the period (DESIGN.md)."""
    rows = Deal.objects.for_portal(scope.portal).filter(won_in(scope.span()))
    return in_scope_pipeline(scope, of_scope_employees(scope, rows))


def repeat_won_deals(scope: Scope):
    """The scope's won deals whose company (else contact) had an earlier won deal, in any
    pipeline and with anyone (DESIGN.md "repeat sale"); one query, each customer's earlier
    wins found through the company and contact indexes."""

    def earlier_win(field: str) -> Exists:
        return Exists(
            Deal.objects.for_portal(scope.portal).filter(
                IS_WON, closed_at__lt=OuterRef("closed_at"), **{field: OuterRef(field)}
            )
        )

    by_company = Q(company_crm_id__isnull=False) & earlier_win("company_crm_id")
    by_contact = Q(company_crm_id__isnull=True, contact_crm_id__isnull=False) & earlier_win(
        "contact_crm_id"
    )
    return won_deals(scope).filter(by_company | by_contact)


def repeat_deal_ids(scope: Scope) -> set[int]:
    return set(repeat_won_deals(scope).values_list("crm_id", flat=True))


def _repeat(scope: Scope) -> dict[tuple[date, int], dict[int, tuple[int, int]]]:
    """{(month, employee): {pipeline: (count, cents)}} of repeat sales, from the mirror."""
    totals: dict[tuple[date, int], dict[int, tuple[int, int]]] = defaultdict(dict)
    rows = (
        repeat_won_deals(scope)
        .annotate(month=TruncMonth("closed_at", tzinfo=scope.zone))
        .values_list("month", "responsible__crm_id", "pipeline__crm_id")
        .annotate(qty=Count("id"), amount=Sum("amount"))
    )
    for month, employee, pipeline, qty, amount in rows:
        by_pipeline = totals[
            (month_start(month.date()), NO_EMPLOYEE if employee is None else employee)
        ]
        pipeline = NO_PIPELINE if pipeline is None else pipeline
        had_qty, had_cents = by_pipeline.get(pipeline, (0, 0))
        by_pipeline[pipeline] = (had_qty + qty, had_cents + amount_cents(amount))
    return dict(totals)


# -- renderings ----------------------------------------------------------------------------


def _figures(numbers: _Numbers, metric: str) -> dict:
    """plan, fact, completion, remaining, repeat share and bonus of one metric, in the
    report's units: money rounded to 2 decimals, percentages 0–100, None without a base.
    Completion and remaining count the planned fact; `planned_fact` says what that is when
    the plan covers only part of the fact (else None)."""
    plan, fact = numbers.plan[metric], numbers.fact(metric)
    planned, bonus = numbers.planned[metric], numbers.bonus[metric]
    return {
        "plan": plan_value_show(metric, plan),
        "fact": plan_value_show(metric, fact),
        "completion": _ratio(planned, plan),
        "planned_fact": plan_value_show(metric, planned)
        if plan is not None and planned != fact
        else None,
        "remaining": plan_value_show(metric, max(plan - planned, 0)) if plan is not None else None,
        "repeat_share": _ratio(numbers.repeat(metric), fact),
        "bonus": round(bonus / 100, 2) if bonus is not None else None,
    }


def _ratio(part: int, whole: int | None) -> float | None:
    return round(100 * part / whole, 2) if whole else None


def plan(scope: Scope) -> dict:
    """The report of `manage.py report plan`, the API and the export."""
    data = plan_fact(scope)
    rows = [
        {
            "month": month.strftime("%Y-%m"),
            "level": level,
            "id": str(crm_id),
            "pipeline_id": None if pipeline is ALL else str(pipeline),
            "metric": metric,
            **_figures(numbers, metric),
        }
        for month, level, crm_id, pipeline, numbers in data["entries"]
        for metric in METRICS
    ]
    return {
        "report": "plan",
        "from": scope.start.isoformat(),
        "to": scope.end.isoformat(),
        "rows": rows,
    }


def plan_period(scope: Scope, metric: str, *, data: dict | None = None) -> dict:
    """The page's table: the period's months summed, departments (each with its direct
    employees) and the employees outside them, each with its pipelines; deals in work at
    the period's end; new and repeat sales. `data`, the scope's `plan_fact` when the
    caller has it already."""
    data = data or plan_fact(scope)
    summed: dict[tuple, _Numbers] = {}
    for _month, level, crm_id, pipeline, numbers in data["entries"]:
        summed.setdefault((level, crm_id, pipeline), _Numbers()).add(numbers)
    total = _Numbers()
    for numbers in data["totals"].values():
        total.add(numbers)
    working = in_work(scope, "deal", by=("employee_crm_id", "pipeline_crm_id"))
    names = dict(Pipeline.objects.for_portal(scope.portal).values_list("crm_id", "name"))
    key = scope.pipeline if scope.pipeline is not None else ALL

    def line(level: str, crm_id: int, name: str, members: list[int] | None) -> dict:
        pipelines = [
            {"pipeline_id": str(p), "name": names.get(p, "—")}
            | _line_figures(summed[(level, crm_id, p)], metric, working, members, p)
            for (lv, c, p) in summed
            if lv == level and c == crm_id and p is not ALL and key is ALL
        ]
        numbers = summed.get((level, crm_id, key), _Numbers())
        figures = _line_figures(numbers, metric, working, members, ALL)
        return {"level": level, "id": str(crm_id), "name": name, "pipelines": pipelines} | figures

    people = data["people"]
    labels = employee_labels(scope.portal, people)
    listed = sorted(
        {c for (lv, c, _p) in summed if lv == PlanLevel.EMPLOYEE},
        key=lambda c: (labels[c].casefold(), c),
    )
    shown = {department.crm_id for department, _members in data["departments"]}
    groups, placed = [], set()
    for department, members in data["departments"]:
        direct = [c for c in listed if people[c].department_id == department.pk]
        placed |= set(direct)
        depth, parent = 0, department.parent
        while parent is not None and parent.crm_id in shown and depth < 10:
            depth, parent = depth + 1, parent.parent
        groups.append(
            line(PlanLevel.DEPARTMENT, department.crm_id, department.name, members)
            | {
                "depth": depth,
                "employees": [line(PlanLevel.EMPLOYEE, c, labels[c], [c]) for c in direct],
            }
        )
    return {
        "metric": metric,
        "departments": groups,
        "employees": [
            line(PlanLevel.EMPLOYEE, c, labels[c], [c]) for c in listed if c not in placed
        ],
        "totals": _line_figures(total, metric, working, None, ALL),
    }


def _line_figures(numbers: _Numbers, metric: str, working, members, pipeline) -> dict:
    count = cents = 0
    for (employee, deal_pipeline), (qty, amount) in working.items():
        if (members is None or employee in members) and (
            pipeline is ALL or deal_pipeline == pipeline
        ):
            count += qty
            cents += amount
    return _figures(numbers, metric) | {
        "in_work_count": count,
        "in_work_sum": round(cents / 100, 2),
        "new_count": numbers.won_qty - numbers.repeat_qty,
        "new_sum": round((numbers.won_cents - numbers.repeat_cents) / 100, 2),
        "repeat_count": numbers.repeat_qty,
        "repeat_sum": round(numbers.repeat_cents / 100, 2),
    }


def working_days(month: date) -> list[date]:
    """Monday to Friday of the month (DESIGN.md "day plan")."""
    days = calendar.monthrange(month.year, month.month)[1]
    return [
        day
        for day in (month + timedelta(days=offset) for offset in range(days))
        if day.weekday() < 5
    ]


def plan_today(scope: Scope, metric: str, *, today: date, data: dict | None = None) -> dict:
    """Today in this month, by employee: the month's plan, the day plan, the fact today and
    so far, completion, pace (the fact so far against the plan for the working days gone)
    and the bonus. `scope` must cover this month (its first day to today); `data`, the
    scope's `plan_fact` when the caller reads several metrics."""
    month = today.replace(day=1)
    days = working_days(month)
    elapsed = sum(1 for day in days if day <= today)
    paced = elapsed >= PACE_FROM_WORKING_DAY
    data = data or plan_fact(scope)
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

    def figures(numbers: _Numbers, fact_today: tuple[int, int]) -> dict:
        plan_value = numbers.plan[metric]
        today_value = fact_today[1] if metric == PlanMetric.WON_SUM else fact_today[0]
        expected = plan_value * elapsed / len(days) if plan_value and paced else 0
        return _figures(numbers, metric) | {
            "day_plan": plan_value_show(metric, plan_value / len(days))
            if plan_value is not None
            else None,
            "fact_today": plan_value_show(metric, today_value),
            "pace": round(100 * numbers.planned[metric] / expected, 2) if expected else None,
        }

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
    totals_today = (sum(q for q, _c in today_won.values()), sum(c for _q, c in today_won.values()))
    return {
        "day": today.isoformat(),
        "metric": metric,
        "working_days": len(days),
        "elapsed_working_days": elapsed,
        "pace_from_working_day": PACE_FROM_WORKING_DAY,
        "employees": employees,
        "totals": figures(data["totals"].get(month, _Numbers()), totals_today),
    }


def plan_dynamics(
    scope: Scope, metric: str, *, grain: str = "month", data: dict | None = None
) -> dict:
    """Completion of the scope's plan month to month (or quarter to quarter)."""
    data = data or plan_fact(scope)
    buckets = {bucket: _Numbers() for bucket in period_buckets(scope.start, scope.end, grain)}
    for month, numbers in data["totals"].items():
        buckets[period_bucket(month, grain)].add(numbers)
    figures = [_figures(numbers, metric) for numbers in buckets.values()]
    return {
        "metric": metric,
        "grain": grain,
        "periods": [period_label(bucket, grain) for bucket in buckets],
        "plan": [f["plan"] for f in figures],
        "fact": [f["fact"] for f in figures],
        "completion": [f["completion"] for f in figures],
    }
