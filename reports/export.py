"""The data behind a report's tables as an .xlsx workbook (one sheet per table)."""

from __future__ import annotations

from datetime import datetime
from io import BytesIO

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from reports.labels import column_label


def report_xlsx(
    data: dict, *, title: str, filters: list[tuple[str, str]], labels: dict | None = None
) -> bytes:
    """`data` is a report's dict: every list of rows (and the totals) becomes a sheet, with
    the filters it was built with on top, so the file says what it shows. `labels` names
    columns the report calls differently from the shared names."""

    def label(key: str) -> str:
        return str(column_label(key, labels))

    book = Workbook()
    book.remove(book.active)
    tables = {
        key: value
        for key, value in data.items()
        if isinstance(value, list) and all(isinstance(row, dict) for row in value)
    }
    if isinstance(data.get("totals"), dict):
        tables["totals"] = [data["totals"]]
    for name, rows in tables.items():
        sheet = book.create_sheet(label(name)[:31])
        sheet.append([title])
        for filter_name, value in filters:
            sheet.append([filter_name, value])
        sheet.append([])
        columns = _columns(rows)
        sheet.append([label(column) for column in columns])
        for row in rows:
            sheet.append([_cell(row.get(column), labels) for column in columns])
        for index, column in enumerate(columns, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = max(
                12, len(label(column)) + 2
            )
    if not book.sheetnames:
        book.create_sheet(title[:31])
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _columns(rows: list[dict]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns and key != "path"]
    return columns


def _cell(value, labels: dict | None = None):
    if isinstance(value, list):
        return ", ".join(str(column_label(item, labels)) for item in value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)  # Excel has no time zones; the page's zone is used
    return value
