"""OAuth 2.0 token bookkeeping shared by the sandbox CRMs.

Access tokens live ``access_lifetime`` seconds; refresh tokens are single-use: each refresh returns
a new pair and a used one is refused. Lifetimes are the CRM's (Bitrix24: 1 h access, 180-day
refresh, 30-second codes, b24restdocs ``settings/oauth/auto-renewal.md``; amoCRM: 24 h access,
3-month refresh, 20-minute codes). Each CRM's server renders the refusals in its own shapes.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import OAuthError

REFRESH_LIFETIME = 180 * 86400
CODE_LIFETIME = 30


class TokenRejected(Exception):
    """An access token that is unknown (``invalid_token``) or expired (``expired_token``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Access:
    user_id: int
    expires: float


@dataclass
class _Refresh:
    user_id: int
    expires: float
    used: bool = False
    bound: str = ""


def _token() -> str:
    # Real tokens look like 70 hex chars: be45f0660071849a0058f18a00000001000007726...
    return secrets.token_hex(35)


class TokenStore:
    """Issued access/refresh tokens and authorization codes of one app on one portal."""

    def __init__(
        self,
        clock: Callable[[], float],
        access_lifetime: int = 3600,
        *,
        refresh_lifetime: int = REFRESH_LIFETIME,
        code_lifetime: int = CODE_LIFETIME,
        access_token: Callable[[int, float, float], str] | None = None,
    ) -> None:
        self.clock = clock
        # How a CRM writes its access tokens: (user_id, issued, expires) → token; opaque hex
        # by default.
        self._access_token = access_token or (lambda _user, _issued, _expires: _token())
        self.access_lifetime = access_lifetime
        self.refresh_lifetime = refresh_lifetime
        self.code_lifetime = code_lifetime
        self._lock = threading.Lock()
        self._access: dict[str, _Access] = {}
        self._refresh: dict[str, _Refresh] = {}
        self._codes: dict[str, _Refresh] = {}

    def issue(self, user_id: int, *, with_refresh: bool = True) -> dict[str, Any]:
        """Issue a token pair for ``user_id``: access_token, refresh_token, expires, expires_in."""
        now = self.clock()
        access, refresh = self._access_token(user_id, now, now + self.access_lifetime), _token()
        with self._lock:
            self._access[access] = _Access(user_id, now + self.access_lifetime)
            if with_refresh:
                self._refresh[refresh] = _Refresh(user_id, now + self.refresh_lifetime)
        pair: dict[str, Any] = {
            "access_token": access,
            "expires": int(now + self.access_lifetime),
            "expires_in": self.access_lifetime,
            "user_id": user_id,
        }
        if with_refresh:
            pair["refresh_token"] = refresh
        return pair

    def issue_code(self, user_id: int, *, bound: str = "") -> str:
        """Issue a single-use authorization code, optionally bound to a redirect URI."""
        code = secrets.token_hex(16)
        with self._lock:
            self._codes[code] = _Refresh(user_id, self.clock() + self.code_lifetime, bound=bound)
        return code

    def exchange_code(self, code: str, *, bound: str = "") -> dict[str, Any]:
        """Trade an authorization code (issued with the same ``bound``) for a token pair."""
        with self._lock:
            entry = self._codes.pop(code, None)
        if entry is None or entry.expires < self.clock() or entry.bound != bound:
            raise OAuthError("invalid_grant", "Invalid authorization code", 400)
        return self.issue(entry.user_id)

    def refresh_owner(self, refresh_token: str) -> int:
        """User id of a refresh token that could still be used, without using it."""
        with self._lock:
            entry = self._refresh.get(refresh_token)
            if entry is None or entry.used or entry.expires < self.clock():
                raise OAuthError("invalid_grant", "Invalid grant", 400)
            return entry.user_id

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        """Rotate a refresh token; a used or unknown one gives ``invalid_grant``."""
        with self._lock:
            entry = self._refresh.get(refresh_token)
            if entry is None or entry.used or entry.expires < self.clock():
                raise OAuthError("invalid_grant", "Invalid grant", 400)
            entry.used = True
        return self.issue(entry.user_id)

    def authenticate(self, access_token: str) -> int:
        """User id of a valid access token, else :class:`TokenRejected`."""
        with self._lock:
            entry = self._access.get(access_token)
        if entry is None:
            raise TokenRejected("invalid_token")
        if entry.expires <= self.clock():
            raise TokenRejected("expired_token")
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
