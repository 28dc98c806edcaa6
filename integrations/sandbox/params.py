"""Decode REST parameters the way PHP does: query strings and form bodies with bracket notation.

``filter[>ID]=5&select[]=ID&select[]=TITLE&order[ID]=ASC`` becomes
``{"filter": {">ID": "5"}, "select": ["ID", "TITLE"], "order": {"ID": "ASC"}}``.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

_KEY_RE = re.compile(r"^([^\[]+)((?:\[[^\]]*\])*)")
_PART_RE = re.compile(r"\[([^\]]*)\]")


class ParamsError(ValueError):
    """Raised when a request body cannot be decoded."""


def _assign(target: dict[str, Any], parts: list[str], value: Any) -> None:
    current: Any = target
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if isinstance(current, list):
            current = _list_as_dict(current)
        if part == "":
            part = str(_next_index(current))
        if last:
            current[part] = value
            return
        child = current.get(part)
        if not isinstance(child, dict):
            child = {}
            current[part] = child
        current = child


def _next_index(mapping: dict[str, Any]) -> int:
    numeric = [int(k) for k in mapping if k.isdigit()]
    return max(numeric) + 1 if numeric else 0


def _list_as_dict(items: list[Any]) -> dict[str, Any]:
    return {str(i): v for i, v in enumerate(items)}


def _listify(value: Any) -> Any:
    """Turn dicts with keys 0..n-1 into lists, recursively (PHP arrays with sequential keys)."""
    if isinstance(value, dict):
        converted = {k: _listify(v) for k, v in value.items()}
        if converted and all(k.isdigit() for k in converted):
            indices = sorted(int(k) for k in converted)
            if indices == list(range(len(indices))):
                return [converted[str(i)] for i in indices]
        return converted
    if isinstance(value, list):
        return [_listify(v) for v in value]
    return value


def parse_pairs(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Nest flat ``(key, value)`` pairs using PHP bracket notation."""
    result: dict[str, Any] = {}
    for raw_key, value in pairs:
        match = _KEY_RE.match(raw_key)
        if not match:
            continue
        parts = [match.group(1), *_PART_RE.findall(match.group(2))]
        _assign(result, parts, value)
    return _listify(result)


def parse_query(query: str) -> dict[str, Any]:
    """Decode a query string or form body."""
    return parse_pairs(parse_qsl(query, keep_blank_values=True))


def parse_body(body: bytes, content_type: str) -> dict[str, Any]:
    """Decode a POST body (JSON or form-encoded) into nested parameters."""
    if not body:
        return {}
    if "json" in content_type:
        try:
            decoded = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ParamsError(f"Invalid JSON body: {error}") from error
        if not isinstance(decoded, dict):
            raise ParamsError("JSON body must be an object")
        return decoded
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ParamsError("Body is not UTF-8") from error
    return parse_query(text)


def lower_keys(params: dict[str, Any]) -> dict[str, Any]:
    """Top-level parameter names are case-insensitive in Bitrix24 (``FILTER`` == ``filter``)."""
    result: dict[str, Any] = {}
    for key, value in params.items():
        result.setdefault(key.lower(), value)
    return result
