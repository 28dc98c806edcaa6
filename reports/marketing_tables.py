"""The marketing report's blocks as tables (rows of plain values), for the .xlsx export:
one sheet per block, or the one block a page's export button names."""

from __future__ import annotations

BLOCKS = ("sources", "months", "utm", "stages", "funnel", "top", "calls", "leads", "matrix")


def marketing_tables(data: dict) -> dict[str, list[dict]]:
    """{block: rows}: the lists as they are, the funnel as one row, the top five with their
    change, the matrix with a column per status."""
    tables = {key: data[key] for key in ("sources", "months", "utm", "stages", "calls", "leads")}
    tables["sources"] = [*data["sources"], {"id": "", "name": "Σ", **data["totals"]}]
    tables["funnel"] = [data["funnel"]]
    tables["top"] = [{key: row[key] for key in ("id", "name", "received", "previous", "change")}
                     for row in data["top"]["sources"]]  # fmt: skip
    statuses = data["matrix"]["statuses"]
    tables["matrix"] = [
        {"id": row["id"], "name": row["name"],
         **{status["name"]: row["counts"].get(status["id"], 0) for status in statuses},
         "total": row["total"]}
        for row in data["matrix"]["employees"]
    ]  # fmt: skip
    return {block: tables[block] for block in BLOCKS}
