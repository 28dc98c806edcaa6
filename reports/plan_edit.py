"""Changing plans (services): one cell, last month's copy, a row filled, a checked workbook.
Every change is recorded with who made it and when (PlanChange)."""

from __future__ import annotations

from datetime import date, datetime

from django.db import transaction
from django.utils.translation import gettext as _

from crmapp.models import Portal
from reports.models import Plan, PlanChange
from reports.plan_input import Cell, PlanError, month_add
from reports.scope import PlanRights


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
def plan_import(
    portal: Portal, *, cells: list[tuple[Cell, int | None]], by: int | None, now: datetime
) -> int:
    """Apply a checked workbook in one transaction; returns how many cells changed."""
    return sum(plan_set(portal, cell=cell, value=value, by=by, now=now) for cell, value in cells)
