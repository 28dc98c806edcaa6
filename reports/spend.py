"""Ad spend: what an admin enters per source × calendar month (services), the grid he edits
it in (a selector), its .xlsx form, and the spend a period counts (pro rata by days).

Every change is recorded with who made it and when (AdSpendChange); spend is user-entered
and never purged with the history.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from io import BytesIO
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils.translation import gettext as _
from openpyxl import Workbook

from crmapp.models import Portal, Source
from reports.models import AdSpend, AdSpendChange
from reports.plan_input import month_add, month_start, plan_months_allowed
from reports.sources import source_names
from reports.workbook import WorkbookRefused, cell_read, workbook_rows

MONTHS_AHEAD = 12
MAX_CENTS = 10**17
XLSX_COLUMNS = ("source_id", "source")


class SpendError(ValueError):
    """Input a person typed wrong; the message says what and how to fix it."""


def spend_in_period(scope) -> dict[tuple[date, str], float]:
    """{(month, source): cents} the scope's period counts: a month partly inside it counts
    the share of its days that are (REPORTS.md "spend")."""
    first, last = month_start(scope.start), month_start(scope.end)
    rows = AdSpend.objects.for_portal(scope.portal).filter(month__range=(first, last))
    if scope.sources is not None:
        rows = rows.filter(source_crm_id__in=scope.sources)
    counted: dict[tuple[date, str], float] = defaultdict(float)
    for month, source, cents in rows.values_list("month", "source_crm_id", "amount_cents"):
        counted[(month, source)] += cents * month_share(month, scope.start, scope.end)
    return counted


def month_share(month: date, start: date, end: date) -> float:
    """The share of `month`'s days that fall in [start, end]."""
    days = calendar.monthrange(month.year, month.month)[1]
    last = month + timedelta(days=days - 1)
    inside = (min(last, end) - max(month, start)).days + 1
    return max(0, inside) / days


# -- parsing what people type ---------------------------------------------------------------


def spend_months_allowed(portal: Portal, *, now: datetime) -> tuple[date, date]:
    """The plan's months: the tier's history up to a year ahead (budgets planned)."""
    return plan_months_allowed(portal, now=now)


def spend_month_parse(portal: Portal, text, *, now: datetime) -> date:
    try:
        month = date.fromisoformat(f"{str(text).strip()}-01")
    except ValueError as error:
        raise SpendError(
            _("The month must look like 2026-03, not %(value)r.") % {"value": text}
        ) from error
    first, last = spend_months_allowed(portal, now=now)
    if not first <= month <= last:
        raise SpendError(
            _("Spend can be entered for %(first)s to %(last)s, not for %(month)s.")
            % {"first": first.strftime("%m.%Y"), "last": last.strftime("%m.%Y"),
               "month": month.strftime("%m.%Y")}
        )  # fmt: skip
    return month


def spend_value_parse(text) -> int | None:
    """Cents of what was typed (20 000, 9 000,50, 9000.50); None for an empty cell."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    if isinstance(text, int | float | Decimal):
        typed = str(text)
    else:
        typed = text.strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
    try:
        number = Decimal(typed)
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise SpendError(
            _("Spend is a sum of money, such as 150000 or 150000.50, not %(value)r.")
            % {"value": text}
        )
    if number < 0:
        raise SpendError(_("Spend cannot be negative."))
    if number > Decimal(MAX_CENTS) / 100:
        raise SpendError(_("This sum is too large."))
    cents = number * 100
    if cents != cents.to_integral_value():
        raise SpendError(_("A sum has at most two decimals, not %(value)s.") % {"value": typed})
    return int(cents)


def spend_source_parse(portal: Portal, text) -> str:
    source = "" if text is None else str(text).strip()
    if source and not Source.objects.for_portal(portal).filter(crm_id=source).exists():
        raise SpendError(_("There is no source %(id)r in the CRM.") % {"id": source})
    return source


# -- writing ----------------------------------------------------------------------------------


@transaction.atomic
def spend_set(portal: Portal, *, month: date, source: str, cents: int | None, by: int | None,
              now: datetime) -> bool:  # fmt: skip
    """Set (or clear, with None) one cell; records the change. Returns whether it changed."""
    rows = AdSpend.objects.for_portal(portal).select_for_update()
    stored = rows.filter(month=month, source_crm_id=source).first()
    old = stored.amount_cents if stored else None
    if old == cents:
        return False
    if cents is None:
        stored.delete()
    elif stored:
        stored.amount_cents, stored.updated_by_crm_id, stored.updated_at = cents, by, now
        stored.save(update_fields=["amount_cents", "updated_by_crm_id", "updated_at"])
    else:
        AdSpend.objects.create(
            portal=portal, month=month, source_crm_id=source, amount_cents=cents,
            updated_by_crm_id=by, updated_at=now,
        )  # fmt: skip
    AdSpendChange.objects.create(
        portal=portal, month=month, source_crm_id=source, old_cents=old, new_cents=cents,
        changed_by_crm_id=by, changed_at=now,
    )  # fmt: skip
    return True


# -- the grid ---------------------------------------------------------------------------------


def spend_grid(portal: Portal, *, months: list[date]) -> dict:
    """Sources (the CRM's, then "no source") × months, with the stored values in money."""
    names = source_names(portal)
    stored = {
        (month, source): cents
        for month, source, cents in AdSpend.objects.for_portal(portal)
        .filter(month__in=months)
        .values_list("month", "source_crm_id", "amount_cents")
    }
    order = [s for s in names if s] + [""]
    return {
        "months": [month.strftime("%Y-%m") for month in months],
        "sources": [
            {"id": source, "name": names[source],
             "cells": [{"month": month.strftime("%Y-%m"),
                        "value": _money(stored.get((month, source)))} for month in months]}
            for source in order
        ],
    }  # fmt: skip


def grid_months(portal: Portal, *, now: datetime, count: int = 12) -> list[date]:
    """The last `count` months up to this one, within what spend can be entered for."""
    first, _last = spend_months_allowed(portal, now=now)
    this = month_start(now.astimezone(ZoneInfo(portal.time_zone)).date())
    return [m for m in (month_add(this, -i) for i in range(count - 1, -1, -1)) if m >= first]


def _money(cents: int | None) -> float | None:
    return None if cents is None else round(cents / 100, 2)


def spend_xlsx(grid: dict) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "spend"
    sheet.append([*XLSX_COLUMNS, *grid["months"]])
    for row in grid["sources"]:
        sheet.append([row["id"], row["name"], *(cell["value"] for cell in row["cells"])])
    sheet.column_dimensions["B"].width = 28
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def spend_xlsx_read(portal: Portal, content: bytes, *, now: datetime) -> list[tuple]:
    """Every cell of an uploaded workbook, checked whole: [(month, source, cents | None)];
    SpendError names the first bad cell, and nothing is written before all are good."""
    try:
        rows = iter(workbook_rows(content))
    except WorkbookRefused as error:
        raise SpendError(str(error)) from error
    header = [str(value).strip() if value is not None else "" for value in next(rows, ())]
    if tuple(header[: len(XLSX_COLUMNS)]) != XLSX_COLUMNS:
        raise SpendError(
            _("The first row must start with the columns %(columns)s.")
            % {"columns": ", ".join(XLSX_COLUMNS)}
        )
    months = [
        (
            column,
            cell_read(
                spend_month_parse, portal, text, now=now, row=1, column=column, refused=SpendError
            ),
        )
        for column, text in enumerate(header[len(XLSX_COLUMNS) :], start=len(XLSX_COLUMNS) + 1)
        if text
    ]
    cells, seen = [], set()
    for number, row in enumerate(rows, start=2):
        if not row or all(value in (None, "") for value in row):
            continue
        source = cell_read(
            spend_source_parse, portal, row[0], row=number, column=1, refused=SpendError
        )
        if source in seen:
            raise SpendError(_("Row %(row)d repeats a source.") % {"row": number})
        seen.add(source)
        for column, month in months:
            typed = row[column - 1] if column - 1 < len(row) else None
            cells.append(
                (
                    month,
                    source,
                    cell_read(
                        spend_value_parse, typed, row=number, column=column, refused=SpendError
                    ),
                )
            )
    return cells


@transaction.atomic
def spend_import(portal: Portal, *, cells: list[tuple], by: int | None, now: datetime) -> int:
    """Apply a checked workbook in one transaction; returns how many cells changed."""
    return sum(
        spend_set(portal, month=month, source=source, cents=cents, by=by, now=now)
        for month, source, cents in cells
    )
