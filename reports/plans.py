"""Sales plans, bonus rules and sales-floor links: what a head of sales enters (services),
the grid he edits it in (a selector) and its .xlsx form.

A plan cell is one month × (employee | department) × (pipeline | all pipelines) × metric
(won sum | won count). Every change is recorded with who made it and when (PlanChange).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from io import BytesIO
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils.translation import gettext as _
from openpyxl import Workbook

from crmapp.models import Department, Employee, Pipeline, Portal
from crmapp.tiers import window_start
from reports.export import sheet_row_append
from reports.models import (
    ALL_PIPELINES,
    UNPIPELINED_METRICS,
    BonusRule,
    Plan,
    PlanChange,
    PlanLevel,
    PlanMetric,
    ReachUnit,
    TvLink,
)
from reports.scope import MONTHS_AHEAD, PlanRights
from reports.workbook import WorkbookRefused, cell_read, workbook_rows

MAX_SUM_CENTS = 10**17  # a plan beyond 10^15 in money is a typo, and BIGINT must hold it
MAX_COUNT = 10**9


class PlanError(ValueError):
    """Input a person typed wrong; the message says what and how to fix it."""


# -- parsing what people type ---------------------------------------------------------------


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_add(month: date, months: int) -> date:
    year, index = divmod(month.year * 12 + month.month - 1 + months, 12)
    return date(year, index + 1, 1)


def plan_months_allowed(portal: Portal, *, now: datetime) -> tuple[date, date]:
    """Plans can be set from the first month of the tier's history (earlier months have no
    fact to compare with) up to a year ahead."""
    zone = ZoneInfo(portal.time_zone)
    first = month_start(window_start(portal, now=now).astimezone(zone).date())
    return first, month_add(month_start(now.astimezone(zone).date()), MONTHS_AHEAD)


def plan_month_parse(portal: Portal, text: str, *, now: datetime) -> date:
    try:
        month = date.fromisoformat(f"{text.strip()}-01")
    except ValueError as error:
        raise PlanError(
            _("The month must look like 2026-03, not %(value)r.") % {"value": text}
        ) from error
    first, last = plan_months_allowed(portal, now=now)
    if not first <= month <= last:
        raise PlanError(
            _("Plans can be set for %(first)s to %(last)s, not for %(month)s.")
            % {
                "first": first.strftime("%m.%Y"),
                "last": last.strftime("%m.%Y"),
                "month": month.strftime("%m.%Y"),
            }
        )
    return month


def plan_value_parse(metric: str, text) -> int | None:
    """The stored value (cents for a sum, a count) of what was typed; None for an empty cell."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    if isinstance(text, int | float | Decimal):
        typed = str(text)
    else:
        typed = text.strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
    try:
        number = Decimal(typed)
    except InvalidOperation as error:
        raise PlanError(
            _("A plan is a number, such as 150000 or 150000.50, not %(value)r.") % {"value": text}
        ) from error
    if not number.is_finite():
        raise PlanError(
            _("A plan is a number, such as 150000 or 150000.50, not %(value)r.") % {"value": text}
        )
    if number < 0:
        raise PlanError(_("A plan cannot be negative."))
    count = metric != PlanMetric.WON_SUM
    if number > (MAX_COUNT if count else Decimal(MAX_SUM_CENTS) / 100):
        raise PlanError(_("This plan is too large."))
    if count:
        if number != number.to_integral_value():
            raise PlanError(_("A count is a whole number, not %(value)s.") % {"value": typed})
        return int(number)
    cents = number * 100
    if cents != cents.to_integral_value():
        raise PlanError(_("A sum has at most two decimals, not %(value)s.") % {"value": typed})
    return int(cents)


def plan_value_show(metric: str, value: int | None) -> float | int | None:
    """A stored value as people read it: money with two decimals, a count as is."""
    if value is None:
        return None
    if metric == PlanMetric.WON_SUM:
        return round(value / 100, 2)
    return value if isinstance(value, int) else round(value, 2)  # a day's share of a count


def metric_parse(text: str) -> str:
    if text not in PlanMetric.values:
        raise PlanError(_("Unknown plan metric %(value)r.") % {"value": text})
    return text


def pipeline_parse(portal: Portal, text: str | None) -> int:
    """ALL_PIPELINES for empty, else the CRM id of one of the portal's pipelines."""
    if text in (None, "", "all"):
        return ALL_PIPELINES
    try:
        pipeline = int(str(text).strip())
    except ValueError as error:
        raise PlanError(_("Unknown pipeline %(value)r.") % {"value": text}) from error
    if not Pipeline.objects.for_portal(portal).filter(crm_id=pipeline).exists():
        raise PlanError(_("Unknown pipeline %(value)r.") % {"value": text})
    return pipeline


@dataclass(frozen=True)
class Cell:
    """One plan cell, checked: it exists in the portal and the editor may change it."""

    month: date
    level: str
    target: int
    pipeline: int
    metric: str


def plan_cell_check(
    portal: Portal,
    rights: PlanRights,
    *,
    month: date,
    level: str,
    target,
    pipeline: int,
    metric: str,
) -> Cell:
    if level not in PlanLevel.values:
        raise PlanError(
            _("A plan belongs to an employee or a department, not %(value)r.") % {"value": level}
        )
    try:
        target = int(target)
    except (TypeError, ValueError) as error:
        raise PlanError(
            _("Unknown employee or department %(value)r.") % {"value": target}
        ) from error
    model = Employee if level == PlanLevel.EMPLOYEE else Department
    if not model.objects.for_portal(portal).filter(crm_id=target).exists():
        raise PlanError(_("Unknown employee or department %(value)r.") % {"value": target})
    if not rights.allows(level, target):
        raise PermissionError(target)
    metric = metric_parse(metric)
    if metric in UNPIPELINED_METRICS and pipeline != ALL_PIPELINES:
        raise PlanError(_("Calls and meetings belong to no pipeline: plan them for all pipelines."))
    return Cell(month, level, target, pipeline, metric)


# -- services ------------------------------------------------------------------------------


@transaction.atomic
def plan_set(
    portal: Portal, *, cell: Cell, value: int | None, by: int | None, now: datetime
) -> bool:
    """Set (or, with None, remove) one plan cell; records the change. False if unchanged."""
    key = {
        "month": cell.month,
        "level": cell.level,
        "target_crm_id": cell.target,
        "pipeline_crm_id": cell.pipeline,
        "metric": cell.metric,
    }
    current = Plan.objects.for_portal(portal).select_for_update().filter(**key).first()
    old = current.value if current else None
    if old == value:
        return False
    if value is None:
        current.delete()
    elif current:
        current.value, current.updated_by_crm_id, current.updated_at = value, by, now
        current.save(update_fields=["value", "updated_by_crm_id", "updated_at"])
    else:
        Plan.objects.create(portal=portal, value=value, updated_by_crm_id=by, updated_at=now, **key)
    PlanChange.objects.create(
        portal=portal, old_value=old, new_value=value, changed_by_crm_id=by, changed_at=now, **key
    )
    return True


@transaction.atomic
def plan_month_copy(
    portal: Portal, *, month: date, pipeline: int, rights: PlanRights, by: int | None, now: datetime
) -> int:
    """Copy last month's plans (both metrics, one pipeline key) into `month`, for the cells
    the editor may change; returns how many cells changed."""
    previous = Plan.objects.for_portal(portal).filter(
        month=month_add(month, -1), pipeline_crm_id=pipeline
    )
    changed = 0
    for plan in previous:
        if rights.allows(plan.level, plan.target_crm_id):
            cell = Cell(month, plan.level, plan.target_crm_id, pipeline, plan.metric)
            changed += plan_set(portal, cell=cell, value=plan.value, by=by, now=now)
    return changed


@transaction.atomic
def plan_row_fill(
    portal: Portal, *, cells: list[Cell], by: int | None, now: datetime, since: date | None = None
) -> int:
    """The row's first plan (in the cells' order) in every cell of the row from `since` on
    that has none; returns how many cells were filled. A typed or past month is never
    overwritten (the old button replaced a year of typed plans without asking). PlanError
    if the row has no plan yet."""
    stored = {
        plan.month: plan.value
        for cell in cells[:1]
        for plan in Plan.objects.for_portal(portal).filter(
            month__in=[c.month for c in cells], level=cell.level, target_crm_id=cell.target,
            pipeline_crm_id=cell.pipeline, metric=cell.metric,
        )
    }  # fmt: skip
    value = next((stored[c.month] for c in cells if c.month in stored), None)
    if value is None:
        raise PlanError(_("Type the plan of one month in the row first, then fill the row."))
    empty = [
        cell
        for cell in cells
        if cell.month not in stored and (since is None or cell.month >= since)
    ]
    return sum(plan_set(portal, cell=cell, value=value, by=by, now=now) for cell in empty)


@transaction.atomic
def bonus_rule_set(
    portal: Portal,
    *,
    metric: str,
    min_completion: Decimal,
    tiers: list[tuple[int, int]],
    by: int | None,
    now: datetime,
    reach_unit: str = ReachUnit.FACT,
) -> BonusRule:
    """Replace a metric's bonus rule; tiers are (reach, bonus cents) pairs, no tiers = none."""
    tiers = sorted(tiers)
    BonusRule.objects.for_portal(portal).filter(metric=metric).delete()
    return BonusRule.objects.create(
        portal=portal,
        metric=metric,
        min_completion=min_completion,
        reach_unit=reach_unit,
        tiers=[{"reach": reach, "bonus": bonus} for reach, bonus in tiers],
        updated_by_crm_id=by,
        updated_at=now,
    )


def bonus_earned(rule: BonusRule | None, *, plan: int | None, fact: int) -> int | None:
    """The bonus (cents) of one plan: the highest tier whose reach the fact (or its % of
    the plan) attains, and nothing below the minimum completion. None without a plan or a
    rule."""
    if rule is None or not rule.tiers or not plan:
        return None
    if 100 * fact < rule.min_completion * plan:
        return 0
    if rule.reach_unit == ReachUnit.PERCENT:
        reached = [tier["bonus"] for tier in rule.tiers if 10_000 * fact >= tier["reach"] * plan]
    else:
        reached = [tier["bonus"] for tier in rule.tiers if fact >= tier["reach"]]
    return max(reached, default=0)


def bonus_rules(portal: Portal) -> dict[str, BonusRule]:
    return {rule.metric: rule for rule in BonusRule.objects.for_portal(portal)}


def tv_link_create(portal: Portal, *, name: str, by: int | None, now: datetime) -> TvLink:
    return TvLink.objects.create(
        portal=portal,
        token=secrets.token_urlsafe(32),
        name=name[:100],
        created_by_crm_id=by,
        created_at=now,
    )


def tv_link_revoke(portal: Portal, *, link_id: int, now: datetime) -> bool:
    return bool(
        TvLink.objects.for_portal(portal)
        .filter(pk=link_id, revoked_at__isnull=True)
        .update(revoked_at=now)
    )


def tv_link_portal(token: str) -> Portal | None:
    """The portal a sales-floor link shows, while the link stands and the portal is open."""
    link = (
        TvLink.all_portals.filter(token=token, revoked_at__isnull=True)
        .select_related("portal")
        .first()
    )
    if link is None or link.portal.status not in (Portal.Status.ACTIVE, Portal.Status.NEEDS_REAUTH):
        return None
    return link.portal


# -- the editor's grid ---------------------------------------------------------------------


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


# -- .xlsx ---------------------------------------------------------------------------------

XLSX_COLUMNS = ("level", "id", "name", "pipeline_id", "metric")


def plan_xlsx(grids: list[dict]) -> bytes:
    """The editor's grids (one per metric) as one sheet: a row per employee or department and
    metric, a column per month; an empty cell is no plan (a department: the employees' sum)."""
    book = Workbook()
    sheet = book.active
    sheet.title = "plan"
    sheet_row_append(sheet, [*XLSX_COLUMNS, *grids[0]["months"]])
    for grid in grids:
        pipeline = grid["pipeline"]
        for group in grid["departments"]:
            if group["cells"]:
                sheet_row_append(
                    sheet,
                    [
                        PlanLevel.DEPARTMENT,
                        group["id"],
                        group["name"],
                        pipeline,
                        grid["metric"],
                        *(c["value"] for c in group["cells"]),
                    ],
                )
            for employee in group["employees"]:
                sheet_row_append(
                    sheet,
                    [
                        PlanLevel.EMPLOYEE,
                        employee["id"],
                        employee["name"],
                        pipeline,
                        grid["metric"],
                        *(c["value"] for c in employee["cells"]),
                    ],
                )
    sheet.freeze_panes = "F2"
    sheet.column_dimensions["C"].width = 28
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def plan_xlsx_read(
    portal: Portal, content: bytes, *, rights: PlanRights, now: datetime
) -> list[tuple[Cell, int | None]]:
    """Every cell of an uploaded plan workbook the uploader may change, checked; PlanError
    names the first bad cell (row and column) or a changed row he may not change."""
    try:
        rows = iter(workbook_rows(content))
    except WorkbookRefused as error:
        raise PlanError(str(error)) from error
    header = [str(value).strip() if value is not None else "" for value in next(rows, ())]
    if tuple(header[: len(XLSX_COLUMNS)]) != XLSX_COLUMNS:
        raise PlanError(
            _("The first row must start with the columns %(columns)s.")
            % {"columns": ", ".join(XLSX_COLUMNS)}
        )
    months = []
    for column, text in enumerate(header[len(XLSX_COLUMNS) :], start=len(XLSX_COLUMNS) + 1):
        if text:
            months.append(
                (
                    column,
                    cell_read(
                        plan_month_parse,
                        portal,
                        text,
                        now=now,
                        row=1,
                        column=column,
                        refused=PlanError,
                    ),
                )
            )
    cells: list[tuple[Cell, int | None]] = []
    for number, row in enumerate(rows, start=2):
        if not row or all(value in (None, "") for value in row):
            continue
        level, target, name, pipeline, metric = (row + (None,) * 5)[:5]
        try:
            pipeline_id = pipeline_parse(portal, None if pipeline is None else str(pipeline))
            checked = [
                (column, _import_cell(portal, rights, month, level, target, pipeline_id, metric))
                for column, month in months
            ]
        except PlanError as error:
            raise PlanError(
                _("Row %(row)d: %(error)s") % {"row": number, "error": error}
            ) from error
        for column, (cell, allowed) in checked:
            typed = row[column - 1] if column - 1 < len(row) else None
            value = cell_read(
                plan_value_parse, cell.metric, typed, row=number, column=column, refused=PlanError
            )
            if allowed:
                cells.append((cell, value))
            elif value != _stored(portal, cell):
                raise PlanError(
                    _("Row %(row)d: you may not change the plan of %(name)s.")
                    % {"row": number, "name": name or target}
                )
    return cells


def _import_cell(portal, rights, month, level, target, pipeline, metric) -> tuple[Cell, bool]:
    """A workbook's cell, and whether the uploader may change it: rows he may not change
    (a department he sees but does not head) are accepted only as they stand."""
    everything = PlanRights(None, None)
    cell = plan_cell_check(
        portal,
        everything,
        month=month,
        level=str(level or ""),
        target=target,
        pipeline=pipeline,
        metric=str(metric or ""),
    )
    return cell, rights.allows(cell.level, cell.target)


def _stored(portal: Portal, cell: Cell) -> int | None:
    return (
        Plan.objects.for_portal(portal)
        .filter(
            month=cell.month,
            level=cell.level,
            target_crm_id=cell.target,
            pipeline_crm_id=cell.pipeline,
            metric=cell.metric,
        )
        .values_list("value", flat=True)
        .first()
    )


@transaction.atomic
def plan_import(
    portal: Portal, *, cells: list[tuple[Cell, int | None]], by: int | None, now: datetime
) -> int:
    """Apply a checked workbook in one transaction; returns how many cells changed."""
    return sum(plan_set(portal, cell=cell, value=value, by=by, now=now) for cell, value in cells)
