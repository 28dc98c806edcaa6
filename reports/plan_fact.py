"""Plan vs fact (DESIGN.md "plan", "bonus", "repeat sale"): every month × employee or
department × pipeline key of a scope with its numbers, read from the plans, the daily
aggregates and (repeat sales) the mirror.

It is the one costly read of the plan's reports: a caller reading several of them for one
scope (the page, the sales-floor board, the overview) reads it once and hands it on:
`plan_period`, `plan_today` and `plan_dynamics` (their own modules) and the catalog's
`plan` (reports/plan_report.py).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from django.db.models import Q

from crmapp.models import Department, Employee
from reports.efficiency import period_buckets
from reports.metrics import DEAL_WON
from reports.models import (
    ALL_PIPELINES,
    NO_EMPLOYEE,
    NO_PIPELINE,
    Plan,
    PlanLevel,
)
from reports.plan_bonus import bonus_earned, bonus_rules
from reports.plan_input import month_start
from reports.plan_numbers import ALL, COUNTED, PlanNumbers, fact_rows
from reports.repeat_sales import repeat_by_month
from reports.rollup import facts_summed, facts_where
from reports.scope import Scope


def plan_fact(scope: Scope, *, split: bool = True) -> dict:
    """Every month × target × pipeline key of the scope with its numbers.

    entries: [(month, level, crm id, pipeline key, PlanNumbers)]; totals: {month: PlanNumbers},
    the scope as a whole (its top departments' plans and everyone's facts). Without `split`,
    only the scope's own key (all pipelines, or the scope's one) is worked out, not each
    pipeline in it: the totals, the dynamics and today's board read nothing else."""
    portal, months = scope.portal, period_buckets(scope.start, scope.end, "month")
    employees = Employee.objects.for_portal(portal)
    if scope.employees is not None:
        employees = employees.filter(crm_id__in=scope.employees)
    people = {e.crm_id: e for e in employees.select_related("department")}
    by_pipeline = split or scope.pipeline is not None
    won, counted = _won(scope, by_pipeline), _counted(scope, by_pipeline)
    repeat = repeat_by_month(scope)
    key = scope.pipeline if scope.pipeline is not None else ALL
    plans: dict[tuple, dict[str, int]] = defaultdict(dict)
    planned_pipelines: dict[tuple, set] = defaultdict(set)
    plan_rows = Plan.objects.for_portal(portal).filter(month__in=months)
    if scope.pipeline is not None:
        plan_rows = plan_rows.filter(pipeline_crm_id=scope.pipeline)
    for month, level, target, pipeline, metric, value in plan_rows.values_list(
        "month", "level", "target_crm_id", "pipeline_crm_id", "metric", "value"
    ):
        pipeline_key = ALL if pipeline == ALL_PIPELINES else pipeline
        plans[(month, level, target, pipeline_key)][metric] = value
        planned_pipelines[(month, level, target)].add(pipeline_key)
    rules = bonus_rules(portal)

    def pipeline_keys(month: date, level: str, target: int, members: list[int]) -> list:
        if not split or scope.pipeline is not None:
            return [key]
        keys = set(planned_pipelines.get((month, level, target), ()))
        for member in members:
            keys |= set(won.get((month, member), ()))
            keys |= set(counted.get((month, member), ())) - {NO_PIPELINE}
        return [ALL, *sorted(key for key in keys if key is not ALL)]

    def person(month: date, crm_id: int, pipeline) -> PlanNumbers:
        numbers = PlanNumbers()
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
        typed = plans.get((month, PlanLevel.EMPLOYEE, crm_id, pipeline))
        if not typed:
            return numbers  # no plan: no completion and no bonus to work out
        for metric, plan in typed.items():
            numbers.plan_type(metric, plan)
            # Without a rule there is no bonus (bonus_earned's None, the default).
            if rule := rules.get(metric):
                numbers.bonus[metric] = bonus_earned(rule, plan=plan, fact=numbers.fact(metric))
        return numbers

    departments = _departments(scope, people) if scope.filters.get("employee") is None else []
    ordered = _children_first(departments)
    children = defaultdict(list)
    for child, _members in departments:
        children[child.parent_id].append(child.crm_id)
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
        numbers: dict[tuple[int, object], PlanNumbers] = {}
        for crm_id in listed:
            for pipeline in pipeline_keys(month, PlanLevel.EMPLOYEE, crm_id, [crm_id]):
                numbers[(crm_id, pipeline)] = found = person(month, crm_id, pipeline)
                entries.append((month, PlanLevel.EMPLOYEE, crm_id, pipeline, found))
        found_departments: dict[tuple[int, object], PlanNumbers] = {}
        # Children first: a department's plan is its own typed plan, else its direct
        # employees' plans plus its sub-departments' (each typed or summed the same way).
        for department, members in ordered:
            for pipeline in pipeline_keys(month, PlanLevel.DEPARTMENT, department.crm_id, members):
                total = PlanNumbers()
                for member in members:
                    own = numbers.get((member, pipeline)) or person(month, member, pipeline)
                    total.add(own, plans=people[member].department_id == department.pk)
                for child in children[department.pk]:
                    if below := found_departments.get((child, pipeline)):
                        total.plans_add(below)
                typed = plans.get((month, PlanLevel.DEPARTMENT, department.crm_id, pipeline), {})
                for metric, explicit in typed.items():
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
        "pipelined": _pipelined(scope, planned_pipelines, departments)
        if not by_pipeline
        else set(),
    }


def _scope_total(month, scope, entries, departments, numbers, facts) -> PlanNumbers:
    """The plan of the top departments shown plus that of everyone outside them; the fact
    of everyone in scope (with deals nobody is responsible for, when the scope is all).
    `entries` are the month's."""
    key = scope.pipeline if scope.pipeline is not None else ALL
    parents = {
        department.crm_id: department.parent.crm_id if department.parent_id else None
        for department, _members in departments
    }
    covered = {member for _department, members in departments for member in members}
    total = PlanNumbers()
    for (crm_id, pipeline), person in numbers.items():
        if pipeline == key:
            total.add(person, plans=crm_id not in covered)
    for _month, level, crm_id, pipeline, found in entries:
        if level == PlanLevel.DEPARTMENT and pipeline == key:
            if parents[crm_id] not in parents:
                total.plans_add(found)
    if scope.employees is None:
        won, counted = facts
        for p, (qty, cents) in won.get((month, NO_EMPLOYEE), {}).items():
            if key is ALL or p == key:
                total.won_add(qty, cents)
        for p, counts in counted.get((month, NO_EMPLOYEE), {}).items():
            if key is ALL or p == key:
                total.counted_add(counts)
    return total


def _pipelined(scope: Scope, planned_pipelines, departments) -> set[tuple[str, int]]:
    """(level, crm id) of the employees and departments whose rows would break down into
    pipelines (a win, a counted deal or a plan in one of them): what an unsplit read tells
    of the split it skipped."""
    planned = {
        (level, target)
        for (_month, level, target), keys in planned_pipelines.items()
        if keys - {ALL}
    }
    # As in the split: a department's pipelines are its own plans' and its people's facts'.
    employees = _pipelined_employees(scope)
    found = {(PlanLevel.EMPLOYEE, employee) for employee in employees}
    found |= {(level, target) for level, target in planned if level == PlanLevel.EMPLOYEE}
    for department, members in departments:
        key = (PlanLevel.DEPARTMENT, department.crm_id)
        if key in planned or not employees.isdisjoint(members):
            found.add(key)
    return found


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


def _won(scope: Scope, by_pipeline: bool) -> dict[tuple[date, int], dict[int, tuple[int, int]]]:
    """{(month, employee): {pipeline: (count, cents)}} won, from the aggregates (without
    `by_pipeline`, all pipelines summed under ALL)."""
    won: dict[tuple[date, int], dict[int, tuple[int, int]]] = defaultdict(dict)
    for (month, employee, pipeline), (qty, cents) in _summed(
        scope, facts_where(scope, [DEAL_WON]), by_pipeline
    ):
        if qty or cents:
            won[(month, employee)][pipeline] = (qty, cents)
    return dict(won)


def _counted(scope: Scope, by_pipeline: bool) -> dict[tuple[date, int], dict[int, dict]]:
    """{(month, employee): {pipeline: {plan metric: count}}} of the counted plan metrics
    (deals created, calls, meetings, the named stages reached), from the aggregates;
    activities are NO_PIPELINE's (without `by_pipeline`, all pipelines summed under ALL)."""
    counted: dict[tuple[date, int], dict[int, dict[str, int]]] = defaultdict(dict)
    for (month, employee, pipeline, fact), (qty, _cents) in _summed(
        scope, _counted_where(scope), by_pipeline, "metric"
    ):
        if qty:
            counted[(month, employee)].setdefault(pipeline, {})[COUNTED[fact]] = qty
    return dict(counted)


def _counted_where(scope: Scope):
    return facts_where(scope, list(COUNTED)) & fact_rows(scope.portal, COUNTED.values())


def _summed(scope: Scope, where, by_pipeline: bool, *keys: str):
    """((month, employee, pipeline or ALL, *keys), (qty, cents)) of the aggregate rows:
    summing the pipelines in the database halves the rows a year's table reads."""
    group = ("employee_crm_id", *(("pipeline_crm_id",) if by_pipeline else ()), *keys)
    totals = facts_summed(scope.portal, start=scope.start, end=scope.end, where=where,
                          keys=group, by_month=True)  # fmt: skip
    for (month, employee, *rest), (qty, cents, _seconds) in totals.items():
        pipeline = rest.pop(0) if by_pipeline else ALL
        yield (month_start(month), employee, pipeline, *rest), (qty, cents)


def _pipelined_employees(scope: Scope) -> set[int]:
    """The employees with a win or a counted deal in some pipeline in the scope."""
    where = facts_where(scope, [DEAL_WON]) | _counted_where(scope)
    totals = facts_summed(
        scope.portal, start=scope.start, end=scope.end,
        where=where & ~Q(pipeline_crm_id=NO_PIPELINE), keys=("employee_crm_id",),
    )  # fmt: skip
    return {employee for (employee,), (qty, cents, _s) in totals.items() if qty or cents}
