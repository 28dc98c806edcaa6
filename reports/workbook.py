"""Reading an uploaded .xlsx (the plan, the ad spend) the one safe way: a size and a row limit,
no entity expansion, and no formula read as an empty cell."""

from __future__ import annotations

from io import BytesIO

from django.utils.translation import gettext as _
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

MAX_UPLOAD_BYTES = 2 * 2**20
MAX_UPLOAD_ROWS = 20_000


class WorkbookRefused(ValueError):
    """The upload is not a workbook we read; the message says why, for the person."""


def upload_content(upload) -> bytes:
    """An uploaded file's bytes, reading one past the limit rather than all of an oversized one."""
    content = upload.read(MAX_UPLOAD_BYTES + 1)
    if len(content) > MAX_UPLOAD_BYTES:
        raise WorkbookRefused(
            _("The file is larger than %(size)s MB; a workbook of plans or spend is far smaller.")
            % {"size": MAX_UPLOAD_BYTES // 2**20}
        )
    return content


def workbook_rows(content: bytes) -> list[tuple]:
    """The first sheet's values row by row. A formula the file holds no computed result for
    would read as empty — deleting the plan or the spend it stands for — so it is refused."""
    if len(content) > MAX_UPLOAD_BYTES:
        raise WorkbookRefused(
            _("The file is larger than %(size)s MB; a workbook of plans or spend is far smaller.")
            % {"size": MAX_UPLOAD_BYTES // 2**20}
        )
    values, formulas = _rows(content, data_only=True), _rows(content, data_only=False)
    for number, (row, typed) in enumerate(zip(values, formulas, strict=False), start=1):
        for column, (value, formula) in enumerate(zip(row, typed, strict=False), start=1):
            if value is None and isinstance(formula, str) and formula.startswith("="):
                raise WorkbookRefused(
                    _(
                        "Cell %(cell)s holds a formula without a saved result: open the file "
                        "in Excel or LibreOffice, save it, and import it again (or type the "
                        "number)."
                    )
                    % {"cell": f"{get_column_letter(column)}{number}"}
                )
    return values


def _rows(content: bytes, *, data_only: bool) -> list[tuple]:
    """Parsed through defusedxml, which openpyxl uses when it is installed: a DTD with
    entities is refused, not expanded."""
    try:
        book = load_workbook(BytesIO(content), read_only=True, data_only=data_only)
        rows = list(book.worksheets[0].iter_rows(values_only=True, max_row=MAX_UPLOAD_ROWS + 1))
    except Exception as error:  # openpyxl and the XML parser raise many kinds for a non-workbook
        raise WorkbookRefused(_("This is not an .xlsx workbook.")) from error
    if len(rows) > MAX_UPLOAD_ROWS:
        raise WorkbookRefused(
            _("The workbook has more than %(rows)s rows; plans and spend need far fewer.")
            % {"rows": MAX_UPLOAD_ROWS}
        )
    return rows


def cell_read(parse, *args, row: int, column: int, refused: type[ValueError], **kwargs):
    """`parse(*args, **kwargs)` of one workbook cell; its refusal names the cell ("Cell D3: …")."""
    try:
        return parse(*args, **kwargs)
    except refused as error:
        raise refused(
            _("Cell %(cell)s: %(error)s")
            % {"cell": f"{get_column_letter(column)}{row}", "error": error}
        ) from error
