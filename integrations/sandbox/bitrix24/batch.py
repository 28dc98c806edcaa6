"""The ``batch`` method (b24restdocs ``settings/how-to-call-rest-api/batch.md``).

Up to 50 commands ``cmd[key]="method?query"``, run in order; ``$result[key][field]...`` in a
command's parameters refers to an earlier command's result. The answer is always HTTP 200 with
``result.{result, result_error, result_total, result_next, result_time}``; empty collections are
rendered ``[]`` and sequential keys as lists, as PHP's json_encode does.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from ..params import parse_pairs
from .errors import RestError

MAX_COMMANDS = 50
_REFERENCE = re.compile(r"\$result\[([^\]]+)\]((?:\[[^\]]*\])*)")
_PART = re.compile(r"\[([^\]]*)\]")

Runner = Callable[[str, dict[str, Any]], dict[str, Any]]
TimeBlock = Callable[[float, float], dict[str, Any]]


def php_array(mapping: dict[str, Any]) -> Any:
    """Render a PHP associative array: ``[]`` when empty, a list for keys 0..n-1, else a dict."""
    if not mapping:
        return []
    keys = list(mapping)
    if keys == [str(i) for i in range(len(keys))]:
        return list(mapping.values())
    return mapping


def _lookup(results: dict[str, Any], key: str, path: str) -> str:
    value: Any = results.get(key)
    for part in _PART.findall(path):
        if isinstance(value, dict):
            value = value.get(part)
        elif (
            isinstance(value, list)
            and part.lstrip("-").isdigit()
            and -len(value) <= int(part) < len(value)
        ):
            value = value[int(part)]
        else:
            return ""
        if value is None:
            return ""
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, (dict, list)) or value is None:
        return ""
    return str(value)


def substitute(value: str, results: dict[str, Any]) -> str:
    """Replace ``$result[key][field]...`` references; unresolvable ones become empty strings."""
    return _REFERENCE.sub(lambda m: _lookup(results, m.group(1), m.group(2)), value)


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "y", "yes")


def run_batch(params: dict[str, Any], runner: Runner, time_block: TimeBlock) -> dict[str, Any]:
    """Execute a batch; ``runner(method, params)`` runs one command or raises RestError."""
    commands = params.get("cmd")
    if isinstance(commands, list):
        commands = {str(i): c for i, c in enumerate(commands)}
    if not isinstance(commands, dict):
        commands = {}
    if len(commands) > MAX_COMMANDS:
        raise RestError("ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded", 400)
    halt = _truthy(params.get("halt", 0))
    results: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    totals: dict[str, Any] = {}
    nexts: dict[str, Any] = {}
    times: dict[str, Any] = {}
    for key, command in commands.items():
        key = str(key)
        name, _, query = str(command).partition("?")
        pairs = [(k, substitute(v, results)) for k, v in parse_qsl(query, keep_blank_values=True)]
        started = time.time()
        try:
            if name.strip().lower() == "batch":
                raise RestError(
                    "ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage", 400
                )
            response = runner(name.strip(), parse_pairs(pairs))
        except RestError as error:
            errors[key] = error.body()
            if halt:
                break
            continue
        results[key] = response.get("result")
        if "total" in response:
            totals[key] = response["total"]
        if "next" in response:
            nexts[key] = response["next"]
        times[key] = time_block(started, time.time())
    return {
        "result": {
            "result": php_array(results),
            "result_error": php_array(errors),
            "result_total": php_array(totals),
            "result_next": php_array(nexts),
            "result_time": php_array(times),
        }
    }
