"""Sandbox Bitrix24: portal REST, OAuth server and control API on one HTTPS port.

Routes: ``/oauth/token/`` and ``/oauth/authorize/`` (OAuth server), ``/rest/app.info/`` (the OAuth
server's app.info the SDK calls), ``/rest/<method>[.json]`` (portal REST), ``/_sandbox/...``
(control API, see :mod:`.control`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from ..https import BaseHandler, SandboxHTTPS
from ..params import ParamsError, parse_body, parse_query
from ..schema import ENTITIES
from ..timeutil import PORTAL_TZ, format_ts
from . import control
from .batch import run_batch
from .errors import SYSTEM_ERRORS, OAuthError, RestError, system_error
from .methods import dispatch
from .portal import SCOPE, Portal, PortalConfig, credentials_for_seed


def time_block(started: float, finished: float) -> dict[str, Any]:
    """The ``time`` object every REST answer carries."""
    return {
        "start": started,
        "finish": finished,
        "duration": finished - started,
        "processing": finished - started,
        "date_start": format_ts(started),
        "date_finish": format_ts(finished),
        "operating_reset_at": int(started) + 600,
        "operating": round(finished - started, 6),
    }


class _Handler(BaseHandler):
    """Bitrix24 routes."""

    def route(self, verb: str) -> None:
        split = urlsplit(self.path)
        raw = self.read_body()
        content_type = self.headers.get("Content-Type", "")
        try:
            params = parse_query(split.query)
            params.update(parse_body(raw, content_type))
        except ParamsError as error:
            self._json(400, {"error": "INVALID_REQUEST", "error_description": str(error)})
            return
        path = split.path
        if path.startswith("/_sandbox/"):
            self._control(verb, path, params, split.query)
        elif path.rstrip("/") == "/oauth/token":
            self._oauth_token(params)
        elif path.rstrip("/") == "/oauth/authorize":
            self._oauth_authorize(params)
        elif path == "/rest/app.info/":
            self._oauth_app_info(params)
        elif path.startswith("/rest/"):
            self._rest(path[len("/rest/") :], params)
        else:
            self._send(404, b"Not Found", "text/plain")

    # --- OAuth server ---------------------------------------------------------------------------
    def _oauth_token(self, params: dict[str, Any]) -> None:
        portal = self.server.sandbox.portal
        try:
            if (
                params.get("client_id") != portal.config.client_id
                or params.get("client_secret") != portal.config.client_secret
            ):
                raise OAuthError("invalid_client", "Invalid client credentials", 401)
            if not portal.app.installed:
                raise OAuthError("invalid_grant", "Application is not installed", 400)
            grant = params.get("grant_type")
            if grant == "refresh_token":
                pair = portal.tokens.refresh(str(params.get("refresh_token") or ""))
            elif grant == "authorization_code":
                pair = portal.tokens.exchange_code(str(params.get("code") or ""))
            else:
                raise OAuthError("invalid_request", "Unsupported grant_type", 400)
        except OAuthError as error:
            self._json(error.status, error.body())
            return
        self._json(200, portal.token_response(pair))

    def _oauth_authorize(self, params: dict[str, Any]) -> None:
        portal = self.server.sandbox.portal
        if params.get("client_id") != portal.config.client_id:
            self._json(400, {"error": "invalid_client", "error_description": "Unknown client"})
            return
        user_id = int(params.get("user_id") or 1)
        answer = {
            "code": portal.tokens.issue_code(user_id),
            "state": params.get("state", ""),
            "domain": portal.config.domain,
            "member_id": portal.config.member_id,
            "scope": SCOPE,
            "server_domain": urlsplit(portal.server_endpoint).netloc,
        }
        redirect = params.get("redirect_uri")
        if redirect:
            joiner = "&" if "?" in redirect else "?"
            self._send(
                302, b"", "text/plain", {"Location": f"{redirect}{joiner}{urlencode(answer)}"}
            )
        else:
            self._json(200, answer)

    def _oauth_app_info(self, params: dict[str, Any]) -> None:
        """The OAuth server's ``app.info`` (shape validated by b24pysdk's BitrixAppInfoResponse)."""
        portal = self.server.sandbox.portal
        started = time.time()
        try:
            user_id = portal.authenticate(str(params.get("auth") or ""))
        except RestError as error:
            self._json(error.status, error.body())
            return
        result = {
            "client_id": portal.config.client_id,
            "scope": SCOPE,
            "expires": format_ts(time.time() + portal.tokens.access_lifetime),
            "install": {
                "installed": portal.events.install_finished,
                "version": portal.app.version,
                "status": portal.app.status,
                "scope": SCOPE,
                "domain": portal.config.domain,
                "uri": portal.config.base_url,
                "client_endpoint": portal.client_endpoint,
                "member_id": portal.config.member_id,
                "member_type": "PORTAL",
            },
            "user_id": user_id,
        }
        self._json(200, {"result": result, "time": time_block(started, time.time())})

    # --- portal REST ----------------------------------------------------------------------------
    def _rest(self, tail: str, params: dict[str, Any]) -> None:
        sandbox = self.server.sandbox
        portal = sandbox.portal
        started = time.time()
        name = tail.strip("/")
        for suffix in (".json", ".xml"):
            if name.endswith(suffix):
                name = name[: -len(suffix)]
        try:
            if not portal.bucket.allow():
                raise system_error("QUERY_LIMIT_EXCEEDED")
            token = params.get("auth") or params.get("access_token")
            if not token:
                raise system_error("NO_AUTH_FOUND")
            user_id = portal.authenticate(str(token))
            params = {k: v for k, v in params.items() if k not in ("auth", "access_token")}
            if name.lower() == "batch":
                payload = run_batch(
                    params,
                    lambda method, sub: sandbox.call(user_id, method, sub),
                    time_block,
                )
            else:
                payload = sandbox.call(user_id, name, params)
        except RestError as error:
            self._json(error.status, error.body())
            return
        payload["time"] = time_block(started, time.time())
        self._json(200, payload)

    # --- control API ----------------------------------------------------------------------------
    def _control(self, verb: str, path: str, params: dict[str, Any], query: str) -> None:
        sandbox = self.server.sandbox
        key = self.headers.get("X-Sandbox-Key") or parse_query(query).get("key")
        allowed = key in (sandbox.control_key, sandbox.portal.config.client_secret)
        if not allowed and path.rstrip("/") == "/_sandbox/install_finish" and params.get("auth"):
            try:
                allowed = sandbox.portal.is_admin(sandbox.portal.authenticate(str(params["auth"])))
            except RestError:
                allowed = False
        if not allowed:
            self._json(403, {"error": "forbidden", "error_description": "control key required"})
            return
        try:
            payload = control.handle(sandbox, verb, path, params)
        except control.ControlError as error:
            self._json(error.status, {"error": "control", "error_description": error.message})
            return
        self._json(200, payload)


class SandboxServer(SandboxHTTPS):
    """A running sandbox Bitrix24 portal (data, OAuth, REST, events) on ``127.0.0.1:port``."""

    handler = _Handler
    crm = "bitrix24"

    def __init__(
        self,
        *,
        seed: int = 1,
        scale: str = "small",
        port: int = 0,
        host: str = "127.0.0.1",
        data_dir: str | Path | None = None,
        rate_limit: tuple[float, float] = (50.0, 2.0),
        access_lifetime: int = 3600,
        now: float | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> None:
        super().__init__(seed=seed, scale=scale, port=port, host=host, data_dir=data_dir, now=now)
        default_id, default_secret, member_id = credentials_for_seed(seed)
        self.config = PortalConfig(
            seed=seed,
            scale=scale,
            now=self.now,
            domain=self.domain,
            client_id=client_id or default_id,
            client_secret=client_secret or default_secret,
            access_lifetime=access_lifetime,
            rate_limit=rate_limit,
            member_id=member_id,
        )
        self.portal = Portal(self.store, self.config)

    def stop_services(self) -> None:
        """Stop the event delivery thread."""
        self.portal.events.stop()

    # --- behaviour ------------------------------------------------------------------------------
    def call(self, user_id: int, name: str, params: dict[str, Any]) -> dict[str, Any]:
        """Run one REST method (fault injection first)."""
        faults = self.portal.faults
        for key in (name.lower(), "*"):
            queue = faults.get(key)
            if queue:
                code = queue.pop(0)
                if not queue:
                    faults.pop(key, None)
                raise system_error(code) if code in SYSTEM_ERRORS else RestError(code, code, 400)
        return dispatch(self.portal, user_id, name, params)

    def reinstall(self) -> dict[str, str]:
        """Reinstall the app and return the new install form."""
        return self.portal.reinstall()

    def reset(self) -> dict[str, Any]:
        """Restore the generated data and a fresh, unfinished installation; returns the new info."""
        with self._lock:
            portal = self.portal
            portal.store.restore_from(self.base_path)
            portal.reload_reference()
            portal.events.clear()
            portal.events.log.clear()
            portal.events.knobs.__init__()
            portal.events.install_finished = False
            portal.notifications.clear()
            portal.placements = []
            portal.faults.clear()
            portal.offset = 0.0
            portal.app.__init__()
            portal.bucket.configure(*self.config.rate_limit)
            portal.tokens.access_lifetime = self.config.access_lifetime
            portal.install_tokens = {}
        return self.info

    def stats(self) -> dict[str, int]:
        """Row counts per stored entity."""
        return {name: self.store.count(entity) for name, entity in ENTITIES.items()}

    @property
    def info(self) -> dict[str, Any]:
        """The info JSON printed by ``manage.py sandbox serve`` (see module docs)."""
        portal = self.portal
        generation = portal.store.get_meta("generation") or {}
        return {
            "domain": self.domain,
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret,
            "oauth_url": self.url,
            "ca_bundle": self.ca_bundle,
            "install": portal.install_payload(),
            "control": {
                "url": f"{self.url}/_sandbox",
                "key": self.control_key,
                "header": "X-Sandbox-Key",
                "install_query_params": ["DOMAIN", "PROTOCOL", "LANG", "APP_SID"],
                "install_finish_url": f"{self.url}/_sandbox/install_finish",
            },
            "portal": {
                "seed": self.seed,
                "scale": self.scale,
                "now": format_ts(self.now),
                "time_zone": str(PORTAL_TZ),
                "member_id": self.config.member_id,
                "admin_user_id": 1,
                "counts": generation.get("counts", {}),
            },
        }
