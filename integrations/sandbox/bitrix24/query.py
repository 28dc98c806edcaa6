"""Bitrix24 list semantics: ``filter`` prefixes, ``order``, ``select`` and 50-row paging.

Filter keys carry an operator prefix (``>=DATE_MODIFY``, ``@ID``, ``!STAGE_ID``...), see
b24restdocs ``api-reference/crm/deals/crm-deal-list.md``. Stored rows are filtered and ordered in
SQL; small reference lists (users, statuses) with the same rules in Python.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..schema import DT, INT, MONEY, Entity
from ..timeutil import normalize_datetime
from .errors import RestError

PAGE = 50
# Longest prefixes first so that ">=" wins over ">".
OPERATORS = ("!=%", "!%=", "!@", "!=", "!%", ">=", "<=", "=%", "%=", ">", "<", "@", "=", "!", "%")


def split_key(key: str) -> tuple[str, str]:
    """Split ``">=DATE_MODIFY"`` into ``(">=", "DATE_MODIFY")``; no prefix means ``"="``."""
    for op in OPERATORS:
        if key.startswith(op):
            return op, key[len(op) :]
    return "=", key


def _coerce(kind: str | None, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        return "Y" if value else "N"
    if kind == INT:
        try:
            return int(str(value).strip())
        except ValueError:
            return None
    if kind == MONEY:
        try:
            return float(str(value).strip())
        except ValueError:
            return None
    if kind == DT:
        return normalize_datetime(str(value))
    return str(value)


@dataclass
class SqlFilter:
    """A WHERE clause with its parameters."""

    where: str
    params: list[Any]


def sql_filter(entity: Entity, filters: Any, strict: bool = False) -> SqlFilter:
    """Translate a Bitrix24 ``filter`` object into SQL for ``entity``.

    Unknown fields are ignored like the classic ``crm.*.list`` methods do, or rejected with
    ``INVALID_ARG_VALUE`` when ``strict`` (the newer API, e.g. ``crm.stagehistory.list``).
    """
    clauses: list[str] = []
    params: list[Any] = []
    if not isinstance(filters, dict):
        return SqlFilter("1=1", [])
    for raw_key, raw_value in filters.items():
        op, field = split_key(str(raw_key))
        field = field.upper() if field.upper() in entity.columns else field
        kind = entity.kind(field)
        if kind is None or field in entity.multi_fields:
            if strict:
                raise RestError(
                    "INVALID_ARG_VALUE", f"Invalid filter: field '{field}' is not allowed in filter"
                )
            continue
        column = f'"{field}"'
        values = raw_value if isinstance(raw_value, list) else None
        if isinstance(raw_value, dict):
            values = list(raw_value.values())
        if op in ("@", "!@") or (values is not None and op in ("=", "!", "!=")):
            items = [_coerce(kind, v) for v in (values if values is not None else [raw_value])]
            items = [v for v in items if v is not None]
            negate = op in ("!@", "!", "!=")
            if not items:
                clauses.append("1=1" if negate else "1=0")
                continue
            marks = ", ".join("?" for _ in items)
            clauses.append(f"{column} {'NOT IN' if negate else 'IN'} ({marks})")
            params.extend(items)
            continue
        if op in ("%", "!%", "=%", "%=", "!=%", "!%="):
            pattern = str(raw_value)
            if op in ("%", "!%"):
                pattern = f"%{pattern}%"
            negate = op.startswith("!")
            clauses.append(f"COALESCE({column}, '') {'NOT LIKE' if negate else 'LIKE'} ?")
            params.append(pattern)
            continue
        value = _coerce(kind, raw_value)
        if raw_value in ("", None):
            empty = f"({column} IS NULL OR {column} = '')"
            if kind == INT:
                empty = f"({column} IS NULL OR {column} = 0)"
            if op in ("=",):
                clauses.append(empty)
            elif op in ("!", "!="):
                clauses.append(f"NOT {empty}")
            else:
                clauses.append("1=0")
            continue
        if value is None:
            if strict:
                raise RestError(
                    "INVALID_ARG_VALUE", f"Invalid filter: field '{field}' has invalid value"
                )
            clauses.append("1=0")
            continue
        sql_op = {"=": "=", "!": "<>", "!=": "<>", ">": ">", "<": "<", ">=": ">=", "<=": "<="}[op]
        if sql_op == "<>":
            clauses.append(f"({column} IS NULL OR {column} <> ?)")
        else:
            clauses.append(f"{column} {sql_op} ?")
        params.append(value)
    return SqlFilter(" AND ".join(clauses) or "1=1", params)


def sql_order(entity: Entity, order: Any, strict: bool = False) -> str:
    """Translate ``order`` into ``ORDER BY`` (ID ascending breaks ties and is the default)."""
    parts: list[str] = []
    seen: set[str] = set()
    if isinstance(order, dict):
        for raw_field, raw_direction in order.items():
            field = str(raw_field).upper()
            direction = str(raw_direction).upper()
            if entity.kind(field) is None or field in entity.multi_fields:
                if strict:
                    raise RestError(
                        "INVALID_ARG_VALUE",
                        f"Invalid order: field '{field}' is not allowed in order",
                    )
                continue
            if direction not in ("ASC", "DESC"):
                if strict:
                    raise RestError(
                        "INVALID_ARG_VALUE",
                        "Invalid order: allowed sort directions are ASC, DESC. "
                        f"But got '{raw_direction}' for field '{field}'",
                    )
                direction = "ASC"
            parts.append(f'"{field}" {direction}')
            seen.add(field)
    if "ID" not in seen:
        parts.append("ID ASC")
    return ", ".join(parts)


def resolve_select(entity: Entity, select: Any, *, include_multi: bool = False) -> list[str]:
    """Fields to return: ``*`` means standard fields, ``UF_*`` user fields; ID always included.

    An empty or missing ``select`` gives the standard fields (``*``), which is what real portals
    return for list methods (FACTS.md: the documented ``*`` + ``UF_*`` default is not what
    portals do; always send ``select``).
    """
    names = (
        select
        if isinstance(select, list)
        else list(select.values())
        if isinstance(select, dict)
        else []
    )
    names = [str(n).upper() for n in names if n not in (None, "")]
    if not names:
        names = ["*"]
    result: list[str] = []
    for name in names:
        if name == "*":
            result.extend(entity.fields)
            if include_multi:
                result.extend(entity.multi_fields)
        elif name == "UF_*":
            result.extend(entity.user_fields)
        elif entity.kind(name) is not None:
            result.append(name)
    ordered = ["ID"] + [n for n in dict.fromkeys(result) if n != "ID"]
    return ordered


def render_row(entity: Entity, row: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """Render a stored row restricted to ``fields`` as the REST API shows it."""
    out: dict[str, Any] = {}
    for name in fields:
        if name in entity.multi_fields:
            rendered = entity.render_multi(name, int(row["ID"]), row.get(name))
            if rendered:
                out[name] = rendered
            continue
        out[name] = entity.render(name, row.get(name))
    return out


def parse_start(value: Any) -> int:
    """``start`` as an int (``-1`` disables counting); junk means 0 like PHP's intval."""
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return 0


# --- Python-side filtering for small reference lists ---------------------------------------
def _py_value(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, list):
        return [_py_value(v) for v in value]
    return value


def _compare(actual: Any, expected: Any) -> int | None:
    if isinstance(actual, list):
        return 0 if any(_compare(a, expected) == 0 for a in actual) else 1
    if isinstance(actual, bool):
        truthy = str(expected).strip().lower() in ("y", "true", "1")
        return 0 if actual == truthy else 1
    if actual is None:
        return None
    try:
        a, b = float(actual), float(expected)
    except (TypeError, ValueError):
        a, b = str(actual), str(expected)  # type: ignore[assignment]
    return (a > b) - (a < b)  # type: ignore[operator]


def py_predicate(filters: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
    """Build a predicate applying Bitrix24 filter semantics to plain dict rows."""
    checks: list[Callable[[dict[str, Any]], bool]] = []
    for raw_key, raw_value in filters.items():
        op, field = split_key(str(raw_key))
        expected = _py_value(raw_value)

        def check(
            row: dict[str, Any], op: str = op, field: str = field, expected: Any = expected
        ) -> bool:
            if field not in row:
                return True
            actual = row[field]
            if isinstance(expected, list) or op in ("@", "!@"):
                options = expected if isinstance(expected, list) else [expected]
                hit = any(_compare(actual, option) == 0 for option in options)
                return not hit if op in ("!@", "!", "!=") else hit
            result = _compare(actual, expected)
            if op in ("%", "=%", "%="):
                return str(expected).strip("%").lower() in str(actual).lower()
            if result is None:
                return op in ("!", "!=")
            return {
                "=": result == 0,
                "!": result != 0,
                "!=": result != 0,
                ">": result > 0,
                "<": result < 0,
                ">=": result >= 0,
                "<=": result <= 0,
            }.get(op, True)

        checks.append(check)
    return lambda row: all(check(row) for check in checks)


def py_sort(rows: list[dict[str, Any]], field: str, descending: bool) -> list[dict[str, Any]]:
    """Sort reference rows by ``field`` numerically when possible."""

    def key(row: dict[str, Any]) -> tuple[int, Any]:
        value = row.get(field)
        try:
            return (0, float(value))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return (1, str(value))

    return sorted(rows, key=key, reverse=descending)
