"""Control API of the sandbox account under ``/_sandbox/`` (control key in ``X-Sandbox-Key``).

Drives what a test, the demo or an outside check needs and amoCRM's own API cannot do: a second
admin's authorization code, the widget's one-time JWT, users changing data (every change emits the
events and hooks amoCRM would), the clock, token expiry, the unpaid flag, limits and faults, the
uninstall ("access revoked") hook, reset and the digest.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from ..ratelimit import parse_rate_limit
from .account import Account
from .oauth import origin, revoke_signature, widget_token
from .webhooks import Knobs

if TYPE_CHECKING:
    from .server import AmoCRMServer


class ControlError(Exception):
    """A control API error with an HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_LEAD = re.compile(r"^/_sandbox/leads/(\d+)(?:/(restore))?/?$")
_TASK = re.compile(r"^/_sandbox/tasks/(\d+)/complete/?$")


def _actor(body: dict[str, Any]) -> int:
    return int(body.get("user_id") or 7_000_001)


def handle(server: AmoCRMServer, verb: str, path: str, body: dict[str, Any]) -> Any:
    """Route one control request; returns the JSON payload or raises :class:`ControlError`."""
    account = server.portal
    try:
        lead = _LEAD.match(path)
        if lead:
            return _lead(account, verb, int(lead.group(1)), lead.group(2), body)
        task = _TASK.match(path)
        if task and verb == "POST":
            account.complete_task(int(task.group(1)), body.get("result"), _actor(body))
            return {"completed": int(task.group(1))}
        simple: dict[tuple[str, str], Callable[[], Any]] = {
            ("GET", "/_sandbox/info"): lambda: server.info,
            ("POST", "/_sandbox/authorize"): lambda: _authorize(server, body),
            ("POST", "/_sandbox/widget_token"): lambda: {
                "token": widget_token(account, _actor(body), f"https://{server.domain}")
            },
            ("POST", "/_sandbox/leads"): lambda: {
                "id": account.add_lead(body.get("fields") or {}, _actor(body))
            },
            ("POST", "/_sandbox/tasks"): lambda: {
                "id": account.add_task(body.get("fields") or {}, _actor(body))
            },
            ("POST", "/_sandbox/calls"): lambda: {
                "id": account.add_call(body.get("fields") or {}, _actor(body))
            },
            ("POST", "/_sandbox/time"): lambda: _advance(account, body),
            ("POST", "/_sandbox/tokens/expire"): lambda: {
                "expired": account.tokens.expire_access_tokens()
            },
            ("POST", "/_sandbox/unpaid"): lambda: _unpaid(account, body),
            ("POST", "/_sandbox/rate_limit"): lambda: _rate_limit(account, body),
            ("POST", "/_sandbox/unblock"): lambda: _unblock(account),
            ("POST", "/_sandbox/hooks/knobs"): lambda: _knobs(account, body),
            ("GET", "/_sandbox/hooks/log"): lambda: list(account.hooks.log),
            ("DELETE", "/_sandbox/hooks/log"): lambda: _clear(account.hooks.log),
            ("POST", "/_sandbox/hooks/wait"): lambda: {
                "idle": account.hooks.wait_idle(float(body.get("timeout", 10)))
            },
            ("POST", "/_sandbox/uninstall"): lambda: _uninstall(server, body),
            ("POST", "/_sandbox/reset"): lambda: server.reset(),
            ("GET", "/_sandbox/digest"): lambda: {"digest": server.digest()},
            ("GET", "/_sandbox/stats"): lambda: server.stats(),
        }
        action = simple.get((verb, path.rstrip("/")))
        if action is None:
            raise ControlError(404, f"unknown control endpoint {verb} {path}")
        return action()
    except (KeyError, TypeError, ValueError) as error:
        raise ControlError(400, str(error)) from error


def _lead(
    account: Account, verb: str, lead_id: int, action: str | None, body: dict[str, Any]
) -> Any:
    actor = _actor(body)
    if verb == "DELETE":
        account.delete_lead(lead_id, actor)
        return {"deleted": lead_id}
    if verb == "POST" and action == "restore":
        account.restore_lead(lead_id, actor)
        return {"restored": lead_id}
    if verb == "POST":
        (item,) = account.update_leads([{**(body.get("fields") or {}), "id": lead_id}], actor)
        return item
    raise ControlError(404, "unsupported lead action")


def _authorize(server: AmoCRMServer, body: dict[str, Any]) -> dict[str, Any]:
    """A fresh code, as a (second) admin granting our integration access would produce."""
    account = server.portal
    user_id = _actor(body)
    if not account.is_admin(user_id):
        raise ControlError(400, "only an account admin can grant access")
    code = account.tokens.issue_code(user_id, bound=account.redirect_uri)
    return {"code": code, "referer": server.domain, "state": body.get("state", "")}


def _advance(account: Account, body: dict[str, Any]) -> dict[str, Any]:
    account.offset += float(body.get("advance_seconds", 0))
    return {"now": account.now(), "offset": account.offset}


def _unpaid(account: Account, body: dict[str, Any]) -> dict[str, Any]:
    account.unpaid = bool(body.get("unpaid", True))
    return {"unpaid": account.unpaid}


def _rate_limit(account: Account, body: dict[str, Any]) -> dict[str, Any]:
    if "limit" in body:
        capacity, rate = parse_rate_limit(str(body["limit"]))
    else:
        capacity = float(body.get("capacity", account.rate_limit[0]))
        rate = float(body.get("rate", account.rate_limit[1]))
    account.bucket.configure(capacity, rate)
    if "block_after" in body:
        account.block_after = (
            int(body["block_after"]),
            float(body.get("block_window", account.block_after[1])),
        )
    account.plain_429 = body.get("body") == "text"
    return {"capacity": capacity, "rate": rate, "block_after": account.block_after[0]}


def _unblock(account: Account) -> dict[str, Any]:
    account.blocked = False
    account.overruns.clear()
    account.bucket.configure(account.bucket.capacity, account.bucket.rate)
    return {"blocked": False}


def _knobs(account: Account, body: dict[str, Any]) -> dict[str, Any]:
    knobs = account.hooks.knobs
    defaults = Knobs()
    for name in vars(defaults):
        if name in body:
            setattr(knobs, name, type(getattr(defaults, name))(body[name]))
    return vars(knobs)


def _clear(items: list[Any]) -> dict[str, Any]:
    removed = len(items)
    items.clear()
    return {"cleared": removed}


def _uninstall(server: AmoCRMServer, body: dict[str, Any]) -> dict[str, Any]:
    """An admin disables the integration: tokens revoked, then the signed "access revoked" GET."""
    account = server.portal
    identity = account.identity
    account.tokens.revoke_all()
    account.installed = False
    url = str(body.get("url") or f"{origin(account.redirect_uri)}/amocrm/revoked/")
    query = urlencode(
        {
            "account_id": identity.account_id,
            "client_uuid": identity.client_id,
            "signature": revoke_signature(
                identity.client_secret, identity.client_id, identity.account_id
            ),
        }
    )
    target = f"{url}{'&' if '?' in url else '?'}{query}"
    try:
        with urllib.request.urlopen(target, timeout=2) as response:  # noqa: S310
            status = int(response.status)
    except urllib.error.HTTPError as error:
        status = int(error.code)
    except (OSError, ValueError):
        status = 0
    entry = {"url": target, "status": status}
    account.uninstall_log.append(entry)
    return {"uninstalled": True, "hook": entry}
