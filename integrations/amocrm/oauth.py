"""amoCRM's OAuth 2: an authorization code or a refresh token for a new token pair.

The token endpoint is the account's own (`https://{referer}/oauth2/access_token`). Access
tokens last a day; a refresh token works once (each refresh returns a new pair), which is
why only integrations.tokens.portal_tokens_refresh calls `tokens_refresh`. amoCRM wants
client id, secret and redirect URI in both bodies (AMOCRM.md §8).
"""

from __future__ import annotations

from datetime import UTC, datetime

import jwt
import requests
from django.conf import settings
from oauthlib.oauth2 import OAuth2Error
from requests_oauthlib import OAuth2Session

from integrations.errors import CrmError, InvalidPayload, ReauthorisationRequired
from integrations.tokens import TokenPair

TIMEOUT = 30


class _Refused(Exception):
    """The token endpoint said no (4xx): the code or refresh token is no good."""


def token_url(domain: str) -> str:
    return f"https://{domain}/oauth2/access_token"


def _answer_check(response: requests.Response) -> requests.Response:
    if response.status_code >= 500:
        raise CrmError(f"amoCRM's token endpoint failed: {response.status_code}", retryable=True)
    if response.status_code >= 400:
        raise _Refused(_detail(response))
    return response


def _detail(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    return str(body.get("hint") or body.get("detail") or body.get("title") or body)


def _session() -> OAuth2Session:
    session = OAuth2Session(settings.AMOCRM_CLIENT_ID, redirect_uri=settings.AMOCRM_REDIRECT_URI)
    session.register_compliance_hook("access_token_response", _answer_check)
    session.register_compliance_hook("refresh_token_response", _answer_check)
    return session


def _pair(token: dict) -> TokenPair:
    expires = token.get("expires_at")
    return TokenPair(
        access_token=token["access_token"],
        refresh_token=token.get("refresh_token") or "",
        expires_at=datetime.fromtimestamp(expires, UTC) if expires else None,
    )


def code_exchange(domain: str, code: str) -> TokenPair:
    """The pair an authorization code buys (InvalidPayload: bad, reused or not ours)."""
    try:
        token = _session().fetch_token(
            token_url(domain),
            code=code,
            include_client_id=True,
            client_secret=settings.AMOCRM_CLIENT_SECRET,
            timeout=TIMEOUT,
        )
    except (_Refused, OAuth2Error) as error:
        raise InvalidPayload(f"amoCRM refused the authorization code: {error}") from error
    except requests.RequestException as error:
        raise CrmError(
            f"amoCRM's token endpoint is unreachable: {error}", retryable=True
        ) from error
    return _pair(token)


def tokens_refresher(domain: str):
    """`refresh(refresh_token) -> TokenPair` for this account, as portal_tokens_refresh wants."""

    def refresh(refresh_token: str) -> TokenPair:
        try:
            token = _session().refresh_token(
                token_url(domain),
                refresh_token=refresh_token,
                client_id=settings.AMOCRM_CLIENT_ID,
                client_secret=settings.AMOCRM_CLIENT_SECRET,
                redirect_uri=settings.AMOCRM_REDIRECT_URI,
                timeout=TIMEOUT,
            )
        except (_Refused, OAuth2Error) as error:
            raise ReauthorisationRequired(f"amoCRM refused the refresh token: {error}") from error
        except requests.RequestException as error:
            message = f"amoCRM's token endpoint is unreachable: {error}"
            raise CrmError(message, retryable=True) from error
        return _pair(token)

    return refresh


def api_domain(access_token: str) -> str:
    """The API host an access token names (its `api_domain` claim; AMOCRM.md §6), unverified:
    only the account's own API, which checks the token, is then asked anything."""
    try:
        claims = jwt.decode(access_token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return ""
    return str(claims.get("api_domain") or "")
