"""The data behind a report's tables as an .xlsx workbook (one sheet per table)."""

from __future__ import annotations

from datetime import datetime
from io import BytesIO

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from reports.labels import column_label


def report_xlsx(data: dict, *, title: str, filters: list[tuple[str, str]]) -> bytes:
    """`data` is a report's dict: every list of rows (and the totals) becomes a sheet, with
    the filters it was built with on top, so the file says what it shows."""
    book = Workbook()
    book.remove(book.active)
    tables = {key: value for key, value in data.items() if isinstance(value, list)}
    if isinstance(data.get("totals"), dict):
        tables["totals"] = [data["totals"]]
    for name, rows in tables.items():
        sheet = book.create_sheet(str(column_label(name))[:31])
        sheet_row_append(sheet, [title])
        for label, value in filters:
            sheet_row_append(sheet, [label, value])
        sheet_row_append(sheet, [])
        columns = _columns(rows)
        sheet_row_append(sheet, [str(column_label(column)) for column in columns])
        for row in rows:
            sheet_row_append(sheet, [_cell(row.get(column)) for column in columns])
        for index, column in enumerate(columns, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = max(
                12, len(str(column_label(column))) + 2
            )
    if not book.sheetnames:
        book.create_sheet(title[:31])
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def sheet_row_append(sheet: Worksheet, values) -> None:
    """The one way rows get into our workbooks. Text comes from a CRM (deal titles, names),
    which anyone may type, even through a web form; openpyxl writes a string starting with
    "=" as a live formula (=HYPERLINK(...), =cmd|...), so every string is stored as text,
    marked as such (quotePrefix) so that editing the cell keeps it text, and stripped of the
    control characters a workbook cannot hold."""
    sheet.append([_text_safe(value) for value in values])
    for cell in sheet[sheet.max_row] if values else ():
        if isinstance(cell.value, str):
            cell.data_type = "s"
            if cell.value[:1] in FORMULA_STARTS:
                cell.quotePrefix = True


FORMULA_STARTS = frozenset("=+-@\t\r")


def _text_safe(value):
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def _columns(rows: list[dict]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns and key != "path"]
    return columns


def _cell(value):
    if isinstance(value, list):
        return ", ".join(str(column_label(item)) for item in value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)  # Excel has no time zones; the page's zone is used
    return value
