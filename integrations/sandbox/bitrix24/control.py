"""Control API under ``/_sandbox/``: drive the portal from tests, the demo and benchmarks.

JSON in, JSON out. Every endpoint needs the control key (header ``X-Sandbox-Key`` or ``?key=``;
the app's client_secret is accepted too), except ``install_finish``, which the CRM host page may
also call with the installing admin's access token (``{"auth": AUTH_ID}``), the way the app's
``BX24.installFinish()`` reaches the portal.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..ratelimit import parse_rate_limit
from ..timeutil import format_ts
from .errors import RestError
from .events import Knobs

if TYPE_CHECKING:
    from .server import SandboxServer


class ControlError(Exception):
    """A control API error with an HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_ENTITY_SERVICES = {
    "deals": ("deal_add", "deal_update", "deal_delete"),
    "leads": ("lead_add", "lead_update", "lead_delete"),
    "activities": ("activity_add", "activity_update", "activity_delete"),
}
_ROUTE = re.compile(r"^/_sandbox/(deals|leads|activities)(?:/(\d+))?(?:/(move|convert|delete))?/?$")


def _actor(body: dict[str, Any]) -> tuple[int, bool]:
    return int(body.get("user_id") or 1), bool(body.get("automation"))


def handle(server: SandboxServer, verb: str, path: str, body: dict[str, Any]) -> Any:
    """Route one control request; returns the JSON payload or raises :class:`ControlError`."""
    portal = server.portal
    match = _ROUTE.match(path)
    try:
        if match:
            return _entity(server, verb, match, body)
        simple: dict[tuple[str, str], Callable[[], Any]] = {
            ("GET", "/_sandbox/info"): lambda: server.info,
            ("POST", "/_sandbox/install_finish"): lambda: _finish(server),
            ("POST", "/_sandbox/install"): lambda: {"install": server.reinstall()},
            ("POST", "/_sandbox/uninstall"): lambda: _uninstall(server, body),
            ("POST", "/_sandbox/time"): lambda: _advance(server, body),
            ("POST", "/_sandbox/tokens/expire"): lambda: {
                "expired": portal.tokens.expire_access_tokens()
            },
            ("POST", "/_sandbox/tokens/lifetime"): lambda: _lifetime(server, body),
            ("POST", "/_sandbox/app"): lambda: _app(server, body),
            ("POST", "/_sandbox/placement"): lambda: _placement(server, body),
            ("POST", "/_sandbox/oauth/code"): lambda: {
                "code": portal.tokens.issue_code(int(body.get("user_id") or 1))
            },
            ("GET", "/_sandbox/notifications"): lambda: portal.notifications,
            ("DELETE", "/_sandbox/notifications"): lambda: _clear(portal.notifications),
            ("GET", "/_sandbox/events"): lambda: list(portal.events.log),
            ("DELETE", "/_sandbox/events"): lambda: _clear(portal.events.log),
            ("POST", "/_sandbox/events/wait"): lambda: {
                "idle": portal.events.wait_idle(float(body.get("timeout", 10)))
            },
            ("POST", "/_sandbox/events/knobs"): lambda: _knobs(server, body),
            ("GET", "/_sandbox/handlers"): lambda: [vars(h) for h in portal.events.handlers],
            ("POST", "/_sandbox/rate_limit"): lambda: _rate_limit(server, body),
            ("POST", "/_sandbox/faults"): lambda: _fault(server, body),
            ("DELETE", "/_sandbox/faults"): lambda: _clear_dict(portal.faults),
            ("POST", "/_sandbox/reset"): lambda: server.reset(),
            ("GET", "/_sandbox/digest"): lambda: {"digest": portal.store.digest()},
            ("GET", "/_sandbox/stats"): lambda: server.stats(),
        }
        action = simple.get((verb, path.rstrip("/") if path != "/" else path))
        if action is None:
            raise ControlError(404, f"unknown control endpoint {verb} {path}")
        return action()
    except RestError as error:
        raise ControlError(400, f"{error.code}: {error.description}") from error
    except (KeyError, TypeError, ValueError) as error:
        raise ControlError(400, str(error)) from error


def _entity(server: SandboxServer, verb: str, match: re.Match[str], body: dict[str, Any]) -> Any:
    kind, ident, action = match.groups()
    portal = server.portal
    add, update, delete = (getattr(portal, name) for name in _ENTITY_SERVICES[kind])
    user_id, automation = _actor(body)
    fields = {str(k).upper(): v for k, v in (body.get("fields") or {}).items()}
    if ident is None and verb == "POST" and action is None:
        return {"id": add(fields, user_id, automation)}
    if ident is None:
        raise ControlError(404, "entity id required")
    if verb == "DELETE" or action == "delete":
        delete(ident, user_id, automation)
        return {"deleted": int(ident)}
    if action == "move" and kind == "deals":
        portal.deal_move_category(
            ident, int(body["category_id"]), body.get("stage_id"), user_id, automation
        )
        return {"moved": int(ident)}
    if action == "convert" and kind == "leads":
        return {"deal_id": portal.lead_convert(ident, user_id, automation)}
    if verb == "POST" and action is None:
        update(ident, fields, user_id, automation)
        return {"updated": int(ident)}
    raise ControlError(404, "unsupported entity action")


def _finish(server: SandboxServer) -> dict[str, Any]:
    server.portal.finish_install()
    return {"installed": True}


def _uninstall(server: SandboxServer, body: dict[str, Any]) -> dict[str, Any]:
    server.portal.uninstall(bool(body.get("clean", True)))
    return {"uninstalled": True}


def _advance(server: SandboxServer, body: dict[str, Any]) -> dict[str, Any]:
    server.portal.offset += float(body.get("advance_seconds", 0))
    return {"now": format_ts(server.portal.clock()), "offset": server.portal.offset}


def _lifetime(server: SandboxServer, body: dict[str, Any]) -> dict[str, Any]:
    server.portal.tokens.access_lifetime = int(body["seconds"])
    return {"access_lifetime": server.portal.tokens.access_lifetime}


def _app(server: SandboxServer, body: dict[str, Any]) -> dict[str, Any]:
    app = server.portal.app
    if "status" in body:
        status = str(body["status"]).upper()
        if status not in ("L", "F", "D", "T", "P", "S"):
            raise ValueError("status must be one of L F D T P S")
        app.status = status
    if "payment_expired" in body:
        value = body["payment_expired"]
        app.payment_expired = "Y" if value in (True, "Y", "y", 1, "1") else "N"
    now = server.portal.clock()
    if "days" in body:
        # Days from now: the paid period then ends on the portal clock and DAYS counts down.
        app.paid_until = None if body["days"] is None else now + int(body["days"]) * 86400
    return app.info(now)


def _placement(server: SandboxServer, body: dict[str, Any]) -> dict[str, Any]:
    return server.portal.placement_payload(
        int(body.get("user_id") or 1), str(body.get("placement") or "DEFAULT"), body.get("options")
    )


def _knobs(server: SandboxServer, body: dict[str, Any]) -> dict[str, Any]:
    knobs = server.portal.events.knobs
    defaults = Knobs()
    for name in vars(defaults):
        if name in body:
            setattr(knobs, name, type(getattr(defaults, name))(body[name]))
    return vars(knobs)


def _rate_limit(server: SandboxServer, body: dict[str, Any]) -> dict[str, Any]:
    if "limit" in body:
        capacity, rate = parse_rate_limit(str(body["limit"]))
    else:
        capacity, rate = float(body["capacity"]), float(body["rate"])
    server.portal.bucket.configure(capacity, rate)
    return {"capacity": capacity, "rate": rate}


def _fault(server: SandboxServer, body: dict[str, Any]) -> dict[str, Any]:
    method = str(body.get("method") or "*").lower()
    code = str(body["error"])
    count = int(body.get("count", 1))
    server.portal.faults.setdefault(method, []).extend([code] * count)
    return server.portal.faults


def _clear(items: list[Any]) -> dict[str, Any]:
    removed = len(items)
    items.clear()
    return {"cleared": removed}


def _clear_dict(items: dict[str, Any]) -> dict[str, Any]:
    removed = len(items)
    items.clear()
    return {"cleared": removed}
