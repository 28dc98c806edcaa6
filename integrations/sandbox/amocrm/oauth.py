"""amoCRM's OAuth 2 endpoint, widget token and "access revoked" hook signature (AMOCRM.md §6).

``POST /oauth2/access_token`` takes JSON or a form: ``authorization_code`` (20-minute single-use
codes minted for our redirect URI) and ``refresh_token`` (single use: a reused one answers 401
"Token has been revoked"); the redirect URI must be the registered one. Access tokens last 24 h.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import jwt

from ..errors import OAuthError
from .account import Account
from .errors import oauth_error

WIDGET_TOKEN_LIFETIME = 1800


def token_answer(account: Account, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Status and body of ``POST /oauth2/access_token``."""
    identity = account.identity
    if (
        params.get("client_id") != identity.client_id
        or params.get("client_secret") != identity.client_secret
    ):
        return 401, oauth_error("Client authentication failed") | {"status": 401}
    if params.get("redirect_uri") != account.redirect_uri:
        return 400, oauth_error("Redirect URI mismatch")
    grant = params.get("grant_type")
    try:
        if grant == "authorization_code":
            pair = account.tokens.exchange_code(
                str(params.get("code") or ""), bound=account.redirect_uri
            )
        elif grant == "refresh_token":
            pair = account.tokens.refresh(str(params.get("refresh_token") or ""))
        else:
            return 400, oauth_error("Unsupported grant type")
    except OAuthError:
        if grant == "refresh_token":
            return 401, oauth_error("Token has been revoked")
        return 400, oauth_error("Authorization code has expired")
    return 200, {
        "token_type": "Bearer",
        "expires_in": account.tokens.access_lifetime,
        "server_time": account.now(),
        "access_token": pair["access_token"],
        "refresh_token": pair["refresh_token"],
    }


def subdomain_answer(account: Account, refresh_token: str) -> tuple[int, dict[str, Any]]:
    """Status and body of ``GET /oauth2/account/current/subdomain`` (``X-Refresh-Token``)."""
    try:
        account.tokens.refresh_owner(refresh_token)
    except OAuthError:
        return 401, oauth_error("Token has been revoked")
    return 200, account.subdomain_info()


def origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def widget_token(account: Account, user_id: int, issuer: str) -> str:
    """The one-time JWT the widget's ``$authorizedAjax`` sends for ``user_id`` (HS256, 30 min)."""
    now = int(time.time() + account.offset)
    identity = account.identity
    claims = {
        "iss": issuer,
        "aud": origin(account.redirect_uri),
        "jti": str(uuid.uuid4()),
        "iat": now,
        "nbf": now,
        "exp": now + WIDGET_TOKEN_LIFETIME,
        "account_id": identity.account_id,
        "user_id": user_id,
        "subdomain": identity.subdomain,
        "client_uuid": identity.client_id,
        "is_admin": account.is_admin(user_id),
    }
    return jwt.encode(claims, identity.client_secret, algorithm="HS256")


def revoke_signature(client_secret: str, client_uuid: str, account_id: int) -> str:
    """hex HMAC-SHA256(client_secret, ``client_uuid|account_id``) of the "access revoked" hook."""
    message = f"{client_uuid}|{account_id}".encode()
    return hmac.new(client_secret.encode(), message, hashlib.sha256).hexdigest()
