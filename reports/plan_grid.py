"""The plan editor's grid (a selector): departments in tree order with their employees, a
cell per month with its stored value, the department default and who changed it last."""

from __future__ import annotations

from datetime import date, datetime

from django.utils.translation import gettext as _

from crmapp.models import Department, Employee, Portal
from reports.models import ALL_PIPELINES, Plan, PlanLevel
from reports.plan_input import plan_months_allowed, plan_value_show
from reports.scope import PlanRights


def plan_grid(
    portal: Portal,
    *,
    months: list[date],
    pipeline: int,
    metric: str,
    rights: PlanRights,
    visible: frozenset[int] | None,
    now: datetime,
) -> dict:
    """Departments (in tree order) with their employees, each with one cell per month:
    the stored value, the department default (the sum of its employees), who changed it last
    and whether the viewer may change it. `visible` = employees the viewer sees (None all)."""
    first, last = plan_months_allowed(portal, now=now)
    plans = {
        (plan.level, plan.target_crm_id, plan.month): plan
        for plan in Plan.objects.for_portal(portal).filter(
            month__in=months, pipeline_crm_id=pipeline, metric=metric
        )
    }
    names = dict(Employee.objects.for_portal(portal).values_list("crm_id", "name"))
    planned = {target for level, target, _month in plans if level == PlanLevel.EMPLOYEE}
    shown: dict[int | None, list[Employee]] = {}
    everyone: dict[int | None, list[int]] = {}
    employees = Employee.objects.for_portal(portal).order_by("name").select_related("department")
    for employee in employees:
        key = employee.department.crm_id if employee.department else None
        everyone.setdefault(key, []).append(employee.crm_id)
        if (visible is None or employee.crm_id in visible) and (
            employee.active or employee.crm_id in planned
        ):
            shown.setdefault(key, []).append(employee)
    departments = list(Department.objects.for_portal(portal).order_by("sort", "name"))
    parents = {d.crm_id: d.parent.crm_id if d.parent_id else None for d in departments}
    depth = {d.crm_id: _depth(d.crm_id, parents) for d in departments}

    def cell(level: str, target: int, month: date, default: int | None = None) -> dict:
        plan = plans.get((level, target, month))
        return {
            "month": month.strftime("%Y-%m"),
            "value": plan_value_show(metric, plan.value if plan else None),
            "default": plan_value_show(metric, default),
            "editable": rights.allows(level, target) and first <= month <= last,
            "changed_by": names.get(plan.updated_by_crm_id, "") if plan else "",
            "changed_at": plan.updated_at if plan else None,
        }

    groups = []
    for department in _tree_order(departments, parents):
        members = [
            crm_id
            for sub in _subtree(department.crm_id, parents)
            for crm_id in everyone.get(sub, [])
        ]
        if visible is not None and not (members and set(members) <= visible):
            continue
        defaults = {
            month: _sum_or_none(
                plans[(PlanLevel.EMPLOYEE, member, month)].value
                for member in members
                if (PlanLevel.EMPLOYEE, member, month) in plans
            )
            for month in months
        }
        groups.append(
            {
                "id": str(department.crm_id),
                "name": department.name,
                "depth": depth[department.crm_id],
                "cells": [
                    cell(PlanLevel.DEPARTMENT, department.crm_id, month, defaults[month])
                    for month in months
                ],
                "editable": rights.allows(PlanLevel.DEPARTMENT, department.crm_id),
                "employees": _employee_rows(shown.get(department.crm_id, []), months, cell, rights),
            }
        )
    if shown.get(None):
        groups.append(
            {
                "id": "",
                "name": _("No department"),
                "depth": 0,
                "cells": [],
                "editable": False,
                "employees": _employee_rows(shown[None], months, cell, rights),
            }
        )
    return {
        "months": [month.strftime("%Y-%m") for month in months],
        "metric": metric,
        "pipeline": None if pipeline == ALL_PIPELINES else pipeline,
        "departments": groups,
    }


def _employee_rows(employees, months, cell, rights: PlanRights) -> list[dict]:
    return [
        {
            "id": str(employee.crm_id),
            "name": employee.name,
            "editable": rights.allows(PlanLevel.EMPLOYEE, employee.crm_id),
            "cells": [cell(PlanLevel.EMPLOYEE, employee.crm_id, month) for month in months],
        }
        for employee in employees
    ]


def _subtree(crm_id: int, parents: dict[int, int | None]) -> set[int]:
    """The department and all below it (a cycle in the CRM's data ends the walk)."""
    wanted, grew = {crm_id}, True
    while grew:
        children = {child for child, parent in parents.items() if parent in wanted}
        grew = not children <= wanted
        wanted |= children
    return wanted


def _depth(crm_id: int, parents: dict[int, int | None]) -> int:
    depth, seen = 0, {crm_id}
    while (crm_id := parents.get(crm_id)) is not None and crm_id not in seen:
        depth, seen = depth + 1, seen | {crm_id}
    return depth


def _tree_order(departments: list[Department], parents: dict[int, int | None]) -> list:
    """Parents before their children, siblings in the CRM's order."""
    children: dict[int | None, list[Department]] = {}
    for department in departments:
        parent = parents[department.crm_id]
        children.setdefault(parent if parent in parents else None, []).append(department)
    ordered: list[Department] = []
    seen: set[int] = set()

    def walk(parent: int | None) -> None:
        for department in children.get(parent, []):
            if department.crm_id not in seen:
                seen.add(department.crm_id)
                ordered.append(department)
                walk(department.crm_id)

    walk(None)
    return ordered + [d for d in departments if d.crm_id not in seen]


def _sum_or_none(values) -> int | None:
    values = list(values)
    return sum(values) if values else None
