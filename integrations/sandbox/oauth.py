"""OAuth 2.0 server of the sandbox, behaving like ``oauth.bitrix.info``.

Access tokens live ``access_lifetime`` seconds (3600 by default); refresh tokens live 180 days and
are single-use: each refresh returns a new pair and a used refresh token answers ``invalid_grant``
(b24restdocs ``settings/oauth/auto-renewal.md``, ``settings/oauth/error-codes.md``). Authorization
codes live 30 seconds.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import OAuthError, system_error

REFRESH_LIFETIME = 180 * 86400
CODE_LIFETIME = 30


@dataclass
class _Access:
    user_id: int
    expires: float


@dataclass
class _Refresh:
    user_id: int
    expires: float
    used: bool = False


def _token() -> str:
    # Real tokens look like 70 hex chars: be45f0660071849a0058f18a00000001000007726...
    return secrets.token_hex(35)


class TokenStore:
    """Issued access/refresh tokens and authorization codes of one app on one portal."""

    def __init__(self, clock: Callable[[], float], access_lifetime: int = 3600) -> None:
        self.clock = clock
        self.access_lifetime = access_lifetime
        self._lock = threading.Lock()
        self._access: dict[str, _Access] = {}
        self._refresh: dict[str, _Refresh] = {}
        self._codes: dict[str, _Refresh] = {}

    def issue(self, user_id: int, *, with_refresh: bool = True) -> dict[str, Any]:
        """Issue a token pair for ``user_id``: access_token, refresh_token, expires, expires_in."""
        now = self.clock()
        access, refresh = _token(), _token()
        with self._lock:
            self._access[access] = _Access(user_id, now + self.access_lifetime)
            if with_refresh:
                self._refresh[refresh] = _Refresh(user_id, now + REFRESH_LIFETIME)
        pair: dict[str, Any] = {
            "access_token": access,
            "expires": int(now + self.access_lifetime),
            "expires_in": self.access_lifetime,
            "user_id": user_id,
        }
        if with_refresh:
            pair["refresh_token"] = refresh
        return pair

    def issue_code(self, user_id: int) -> str:
        """Issue an authorization code (valid 30 s, single use)."""
        code = secrets.token_hex(16)
        with self._lock:
            self._codes[code] = _Refresh(user_id, self.clock() + CODE_LIFETIME)
        return code

    def exchange_code(self, code: str) -> dict[str, Any]:
        """Trade an authorization code for a token pair."""
        with self._lock:
            entry = self._codes.pop(code, None)
        if entry is None or entry.expires < self.clock():
            raise OAuthError("invalid_grant", "Invalid authorization code", 400)
        return self.issue(entry.user_id)

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        """Rotate a refresh token; a used or unknown one gives ``invalid_grant``."""
        with self._lock:
            entry = self._refresh.get(refresh_token)
            if entry is None or entry.used or entry.expires < self.clock():
                raise OAuthError("invalid_grant", "Invalid grant", 400)
            entry.used = True
        return self.issue(entry.user_id)

    def authenticate(self, access_token: str) -> int:
        """User id of a valid access token, else ``expired_token`` / ``invalid_token`` (401)."""
        with self._lock:
            entry = self._access.get(access_token)
        if entry is None:
            raise system_error("invalid_token")
        if entry.expires <= self.clock():
            raise system_error("expired_token")
        return entry.user_id

    def expire_access_tokens(self) -> int:
        """Make every issued access token expired now; returns how many were affected."""
        now = self.clock()
        with self._lock:
            for entry in self._access.values():
                entry.expires = min(entry.expires, now - 1)
            return len(self._access)

    def revoke_all(self) -> None:
        """Forget every token and code (the app was uninstalled)."""
        with self._lock:
            self._access.clear()
            self._refresh.clear()
            self._codes.clear()
