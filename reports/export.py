"""The data behind a report's tables as an .xlsx workbook (one sheet per table), as a head of
sales opens it: titles and codes in his language, numbers and dates formatted, a filter on
every header, columns as wide as what they hold."""

from __future__ import annotations

from datetime import date, datetime
from io import BytesIO

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from reports.labels import column_label, value_label

FORMATS = {int: "#,##0", float: "#,##0.00", datetime: "DD.MM.YYYY HH:MM", date: "DD.MM.YYYY"}
WIDEST = 60


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
        sheet_row_append(sheet, [title])
        for filter_name, value in filters:
            sheet_row_append(sheet, [filter_name, value])
        sheet_row_append(sheet, [])
        sheet.cell(1, 1).font = Font(bold=True, size=13)
        columns = _columns(rows)
        sheet_row_append(sheet, [label(column) for column in columns])
        header = sheet.max_row
        for cell in sheet[header]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet_row_append(sheet, [_cell(column, row.get(column), labels) for column in columns])
        _format(sheet, header, len(columns))
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
    # The cells are made here and handed to append: finding a just-appended row again
    # (sheet[sheet.max_row]) scans every cell of the sheet, quadratic in an export's size.
    sheet.append([_cell_of(sheet, value) for value in values])


def _cell_of(sheet: Worksheet, value):
    if not isinstance(value, str):
        return value
    cell = Cell(sheet, value=_text_safe(value))
    cell.data_type = "s"
    if cell.value[:1] in FORMULA_STARTS:
        cell.quotePrefix = True
    return cell


FORMULA_STARTS = frozenset("=+-@\t\r")


def _text_safe(value):
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def _columns(rows: list[dict]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns and key != "path"]
    return columns


def _cell(column: str, value, labels: dict | None = None):
    if isinstance(value, list):
        return ", ".join(str(column_label(item, labels)) for item in value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)  # Excel has no time zones; the page's zone is used
    return value_label(column, value)


def _format(sheet: Worksheet, header: int, width: int) -> None:
    """Number and date formats by value, a filter on the header row, the header frozen, and
    each column as wide as its longest value (within reason)."""
    if not width:
        return
    widths = [len(str(cell.value or "")) for cell in sheet[header]]
    for row in sheet.iter_rows(min_row=header + 1):
        for index, cell in enumerate(row):
            number_format = FORMATS.get(type(cell.value))
            if number_format:
                cell.number_format = number_format
            shown = cell.value
            if isinstance(shown, float):
                shown = f"{shown:,.2f}"
            elif isinstance(shown, datetime):
                shown = "00.00.0000 00:00"
            widths[index] = max(widths[index], len(str("" if shown is None else shown)))
    for index, longest in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = min(WIDEST, max(8, longest + 2))
    last = get_column_letter(width)
    sheet.auto_filter.ref = f"A{header}:{last}{max(sheet.max_row, header)}"
    sheet.freeze_panes = sheet.cell(header + 1, 1)
