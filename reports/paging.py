"""Slicing a report list in SQL: a page shows the first rows, an export or the API all."""

from __future__ import annotations


def rows_slice(rows, *, limit: int | None, offset: int = 0):
    return rows[offset:] if limit is None else rows[offset : offset + limit]
