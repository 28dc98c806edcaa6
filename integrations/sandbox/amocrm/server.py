"""Sandbox amoCRM: API v4, the OAuth endpoint and the control API on one HTTPS port.

Routes: ``/oauth2/access_token`` (OAuth), ``/api/v4/...`` (:mod:`.api`), ``/_sandbox/...``
(:mod:`.control`). One account per server; ``info`` is DESIGN.md's amoCRM sandbox contract.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..https import BaseHandler, SandboxHTTPS
from ..oauth import TokenRejected
from ..params import ParamsError, parse_body, parse_query
from ..store import Store
from ..timeutil import PORTAL_TZ, format_ts
from . import api, control
from .account import ACCESS_LIFETIME, BLOCK_AFTER, RATE_LIMIT, Account
from .errors import BLOCKED_HTML, TOO_MANY_TEXT, ApiError, unauthorized
from .identity import identity_for_seed
from .oauth import subdomain_answer, token_answer
from .render import TABLES, render

DEFAULT_REDIRECT_URI = "http://127.0.0.1:8000/amocrm/oauth/callback/"
HAL = "application/hal+json"
PROBLEM = "application/problem+json"


_CARD = re.compile(r"^/leads/detail/(\d+)/?$")


class _Handler(BaseHandler):
    """amoCRM routes."""

    allow_headers = "Content-Type, Authorization, X-Sandbox-Key, X-Context-User-ID"
    allow_methods = "GET, POST, PATCH, DELETE, OPTIONS"

    def route(self, verb: str) -> None:
        split = urlsplit(self.path)
        raw = self.read_body()
        content_type = self.headers.get("Content-Type", "")
        try:
            query = parse_query(split.query)
            body: Any = {}
            if raw and "json" in content_type:
                body = json.loads(raw)
            elif raw:
                body = parse_body(raw, content_type)
        except (ParamsError, ValueError):
            self._problem(ApiError(400, "Request validation failed"))
            return
        path = split.path
        sandbox: AmoCRMServer = self.server.sandbox
        if path.startswith("/_sandbox/"):
            self._control(verb, path, body if isinstance(body, dict) else {}, query)
        elif sandbox.portal.blocked:
            self._send(403, BLOCKED_HTML, "text/html")
        elif path.rstrip("/") == "/oauth2/access_token" and verb == "POST":
            status, answer = token_answer(sandbox.portal, body if isinstance(body, dict) else {})
            self._json(status, answer)
        elif path.rstrip("/") == "/oauth2/account/current/subdomain" and verb == "GET":
            refresh = self.headers.get("X-Refresh-Token", "")
            self._json(*subdomain_answer(sandbox.portal, refresh))
        elif path.startswith("/api/v4/"):
            self._api(verb, path, query, body)
        elif (card := _CARD.match(path)) and verb == "GET":
            self._card(int(card.group(1)))
        else:
            self._problem(ApiError(404, f"Cannot {verb} {sandbox.url}{path}"))

    def _card(self, lead_id: int) -> None:
        """The lead's card, as amoCRM's UI shows it at /leads/detail/<id> (where our app's
        links lead): enough of a page for a person or a browser test to see it opened."""
        row = self.server.sandbox.portal.lead_row(lead_id)
        if row is None or row.get("is_deleted"):
            self._send(404, b"<!doctype html><title>404</title><h1>No such lead</h1>", "text/html")
            return
        name = html.escape(row["name"])
        page = (
            f'<!doctype html><html lang="ru"><meta charset="utf-8"><title>{name}</title>'
            f'<body data-lead="{lead_id}"><h1>{name}</h1>'
            f"<p>Бюджет: {row['price']} ₽ · этап {row['status_id']} · воронка {row['pipeline_id']}"
            f"</p></body></html>"
        )
        self._send(200, page.encode(), "text/html; charset=utf-8")

    def _problem(self, error: ApiError) -> None:
        self._json(error.status, error.body(), PROBLEM)

    def _api(self, verb: str, path: str, query: dict[str, Any], body: Any) -> None:
        account: Account = self.server.sandbox.portal
        try:
            account.admit()
            user_id = self._user(account)
            status, payload = api.dispatch(api.Request(account, verb, path, query, body, user_id))
        except ApiError as error:
            if error.status == 429 and account.plain_429:
                self._send(429, TOO_MANY_TEXT, "text/html")
            else:
                self._problem(error)
            return
        if payload is None:
            self._send(status, b"", HAL)
        else:
            self._json(status, payload, HAL)

    def _user(self, account: Account) -> int:
        """The caller: the token's user, or ``X-Context-User-ID`` with an admin's token."""
        header = self.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise unauthorized()
        try:
            user_id = account.tokens.authenticate(header.removeprefix("Bearer ").strip())
        except TokenRejected as error:
            raise unauthorized() from error
        context = self.headers.get("X-Context-User-ID")
        if context:
            if not account.is_admin(user_id):
                raise ApiError(403, "Context user requires an administrator's token")
            try:
                user_id = int(context)
            except ValueError as error:
                raise ApiError(400, "Request validation failed") from error
            found = account.user(user_id)
            if found is None or not found["rights"]["is_active"]:
                raise ApiError(403, "Context user is unknown or inactive")
        return user_id

    def _control(self, verb: str, path: str, body: dict[str, Any], query: dict[str, Any]) -> None:
        sandbox: AmoCRMServer = self.server.sandbox
        key = self.headers.get("X-Sandbox-Key") or query.get("key")
        if key not in (sandbox.control_key, sandbox.identity.client_secret):
            self._json(403, {"error": "forbidden", "error_description": "control key required"})
            return
        try:
            payload = control.handle(sandbox, verb, path, body)
        except control.ControlError as error:
            self._json(error.status, {"error": "control", "error_description": error.message})
            return
        except ApiError as error:
            self._problem(error)
            return
        self._json(200, payload)


class AmoCRMServer(SandboxHTTPS):
    """A running sandbox amoCRM account on ``127.0.0.1:port``."""

    handler = _Handler
    crm = "amocrm"

    def __init__(
        self,
        *,
        seed: int = 1,
        scale: str = "small",
        port: int = 0,
        host: str = "127.0.0.1",
        data_dir: str | Path | None = None,
        now: float | None = None,
        rate_limit: tuple[float, float] = RATE_LIMIT,
        access_lifetime: int = ACCESS_LIFETIME,
        client_id: str | None = None,
        client_secret: str | None = None,
        redirect_uri: str = DEFAULT_REDIRECT_URI,
    ) -> None:
        super().__init__(seed=seed, scale=scale, port=port, host=host, data_dir=data_dir, now=now)
        default = identity_for_seed(seed)
        self.identity = type(default)(
            seed=seed,
            account_id=default.account_id,
            subdomain=default.subdomain,
            client_id=client_id or default.client_id,
            client_secret=client_secret or default.client_secret,
        )
        self.portal = Account(
            self.store,
            self.identity,
            base_url=self.url,
            redirect_uri=redirect_uri,
            access_lifetime=access_lifetime,
            rate_limit=rate_limit,
        )
        self.install = self._install()

    def build(self, store: Store) -> None:
        """The simulated business, then its amoCRM rendering (cached together)."""
        super().build(store)
        generation = store.get_meta("generation") or {}
        store.set_meta("generation", generation | {"complete": False})
        counts = render(store, seed=self.seed)
        store.set_meta("generation", generation | {"amocrm": counts, "complete": True})

    def _install(self) -> dict[str, Any]:
        """What amoCRM sends our redirect URI when the admin installs the widget."""
        code = self.portal.tokens.issue_code(1 + 7_000_000, bound=self.portal.redirect_uri)
        return {"code": code, "referer": self.domain, "from_widget": "1"}

    def stop_services(self) -> None:
        """Stop webhook delivery."""
        self.portal.hooks.stop()

    def reset(self) -> dict[str, Any]:
        """Restore the rendered data, a fresh installation and default limits; returns info."""
        with self._lock:
            account = self.portal
            self.store.restore_from(self.base_path)
            account.hooks.clear()
            account.tokens.revoke_all()
            account.offset = 0.0
            account.bucket.configure(*account.rate_limit)
            account.tokens.access_lifetime = account.access_lifetime
            account.overruns.clear()
            account.block_after, account.plain_429 = BLOCK_AFTER, False
            account.blocked = account.unpaid = False
            account.installed = True
            account.uninstall_log.clear()
            self.install = self._install()
        return self.info

    def digest(self) -> str:
        """SHA-256 over the simulation's rows and every amoCRM table, in a fixed order."""
        sha = hashlib.sha256(self.store.digest().encode())
        for table in TABLES:
            for row in self.store.query(f"SELECT * FROM {table} ORDER BY 1"):  # noqa: S608
                sha.update(repr(tuple(row)).encode())
        return sha.hexdigest()

    def stats(self) -> dict[str, int]:
        """Row counts of the amoCRM tables."""
        return {t: int(self.store.scalar(f"SELECT COUNT(*) FROM {t}")) for t in TABLES}  # noqa: S608

    @property
    def info(self) -> dict[str, Any]:
        """The info JSON (DESIGN.md: amoCRM sandbox contract)."""
        account = self.portal
        generation = self.store.get_meta("generation") or {}
        return {
            "domain": self.domain,
            "subdomain": self.identity.subdomain,
            "account_id": self.identity.account_id,
            "client_id": self.identity.client_id,
            "client_secret": self.identity.client_secret,
            "redirect_uri": account.redirect_uri,
            "ca_bundle": self.ca_bundle,
            "install": dict(self.install),
            "control": {
                "url": f"{self.url}/_sandbox",
                "key": self.control_key,
                "header": "X-Sandbox-Key",
                "widget_token_url": f"{self.url}/_sandbox/widget_token",
                "authorize_url": f"{self.url}/_sandbox/authorize",
            },
            "portal": {
                "seed": self.seed,
                "scale": self.scale,
                "now": format_ts(self.now),
                "time_zone": str(PORTAL_TZ),
                "admin_user_id": 7_000_001,
                "counts": generation.get("amocrm", {}),
            },
        }
