"""The plan grid as an .xlsx sheet, and an uploaded sheet read back into checked cells."""

from __future__ import annotations

from datetime import datetime
from io import BytesIO

from django.utils.translation import gettext as _
from openpyxl import Workbook

from crmapp.models import Portal
from reports.export import sheet_row_append
from reports.models import Plan, PlanLevel
from reports.plan_input import (
    Cell,
    PlanError,
    pipeline_parse,
    plan_cell_check,
    plan_month_parse,
    plan_value_parse,
)
from reports.scope import PlanRights
from reports.workbook import WorkbookRefused, cell_read, workbook_rows

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
