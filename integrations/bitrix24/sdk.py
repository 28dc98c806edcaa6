"""The official SDK (b24pysdk), configured once and bound to our token storage."""

from __future__ import annotations

from b24pysdk import BitrixApp, BitrixToken, Config
from b24pysdk.api.requesters.bitrix_oauth_requester import BitrixOAuthRequester
from b24pysdk.errors import BitrixAPIInvalidToken
from b24pysdk.errors.oauth import BitrixOAuthInvalidClient, BitrixOAuthInvalidGrant
from django.conf import settings

from crmapp.models import Portal
from integrations.errors import ReauthorisationRequired
from integrations.tokens import TokenPair, portal_tokens_refresh


def sdk_configure() -> None:
    """Point the SDK at our OAuth server (once, at start-up: the SDK keeps it in class
    attributes of its requester, not per call)."""
    base = settings.BITRIX24_OAUTH_URL
    BitrixOAuthRequester._OAUTH_TOKEN_URL = f"{base}/oauth/token/"
    BitrixOAuthRequester._APP_INFO_URL = f"{base}/rest/app.info/"


def _retry_policy() -> None:
    """The SDK's retry policy, for the calling thread (its Config is thread-local, so a
    threaded worker's threads would otherwise get the default of 3 quick attempts).

    QUERY_LIMIT_EXCEEDED (503) is retried every half second, for up to a minute: the bucket
    drains 2 requests/s and a refused request does not fill it (limits.md). A constant delay
    keeps parallel import chains at the limit and fair to each other; a growing one lets the
    chain that waited longest lose every race to the fresh ones.
    """
    Config().configure(
        default_timeout=30,
        default_max_retries=120,
        default_initial_retry_delay=0.5,
        default_retry_delay_increment=0,
    )


def bitrix_app() -> BitrixApp:
    _retry_policy()
    return BitrixApp(
        client_id=settings.BITRIX24_CLIENT_ID, client_secret=settings.BITRIX24_CLIENT_SECRET
    )


def oauth_refresh(refresh_token: str) -> TokenPair:
    try:
        renewed = bitrix_app().refresh_oauth_token(refresh_token)
    except (BitrixOAuthInvalidGrant, BitrixOAuthInvalidClient) as error:
        raise ReauthorisationRequired(f"Bitrix24 refused the refresh token: {error}") from error
    token = renewed.oauth_token
    return TokenPair(token.access_token, token.refresh_token, token.expires)


class PortalToken(BitrixToken):
    """A BitrixToken whose refreshes go through the locked, stored, single-flight service.

    The SDK's own refresh keeps the new pair only in memory; with several workers that
    races and loses the pair. Expiry is not pre-checked on a timer: Bitrix24 asks apps to
    refresh only on a 401 (settings/oauth/auto-renewal.md).
    """

    def __init__(self, portal: Portal) -> None:
        super().__init__(
            domain=portal.domain,
            auth_token=portal.access_token,
            refresh_token=portal.refresh_token,
            bitrix_app=bitrix_app(),
        )
        self.portal_id = portal.pk

    def refresh_and_set_oauth_token(self, **kwargs) -> None:
        pair = portal_tokens_refresh(
            self.portal_id, failed_access_token=self.auth_token, refresh=oauth_refresh
        )
        self.auth_token, self.refresh_token = pair.access_token, pair.refresh_token

    def _execute_with_retries(self, func):
        # The SDK refreshes on expired_token only; Bitrix24 also answers invalid_token for a
        # revoked or rotated access token (https://github.com/bitrix24/b24jssdk/issues/182).
        try:
            return super()._execute_with_retries(func)
        except BitrixAPIInvalidToken:
            self.refresh_and_set_oauth_token()
            return super()._execute_with_retries(func)
