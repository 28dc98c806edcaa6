"""Token refresh, exactly once per expiry, however many workers hit the 401 together.

Refresh tokens rotate on both CRMs: a second refresh with the same token is refused and, done
naively, locks the portal out (https://github.com/bitrix24/b24phpsdk/issues/102). So every
refresh locks the portal's row, re-reads the stored pair — another worker may have refreshed
while we waited — and only if it is still the pair that failed, refreshes once and stores the
new pair in the same transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from crmapp.models import Portal
from integrations.errors import ReauthorisationRequired

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_at: datetime | None = None


def portal_tokens_refresh(
    portal_id: int,
    *,
    failed_access_token: str,
    refresh: Callable[[str], TokenPair],
) -> TokenPair:
    """The portal's current pair, refreshed through `refresh(refresh_token)` if still stale.

    `refresh` raises ReauthorisationRequired when the CRM refuses the refresh token; the
    portal is then marked "needs re-authorisation" and the error propagates.
    """
    refused: ReauthorisationRequired | None = None
    with transaction.atomic():
        portal = Portal.objects.select_for_update().get(pk=portal_id)
        if portal.access_token != failed_access_token:
            return TokenPair(portal.access_token, portal.refresh_token, portal.token_expires_at)
        if portal.status == Portal.Status.NEEDS_REAUTH:
            raise ReauthorisationRequired(f"{portal}: waiting for re-authorisation")
        try:
            pair = refresh(portal.refresh_token)
        except ReauthorisationRequired as error:
            refused = error
            portal.status = Portal.Status.NEEDS_REAUTH
            portal.save(update_fields=["status"])
        else:
            portal.access_token = pair.access_token
            portal.refresh_token = pair.refresh_token
            portal.token_expires_at = pair.expires_at
            portal.save(update_fields=["access_token", "refresh_token", "token_expires_at"])
            log.info("refreshed tokens of %s", portal)
            return pair
    log.warning("%s needs re-authorisation: %s", portal, refused)
    raise refused


def portal_tokens_store(portal: Portal, pair: TokenPair) -> None:
    """Keep a pair the CRM just handed us (install, app page open), clearing re-authorisation."""
    portal.access_token = pair.access_token
    portal.refresh_token = pair.refresh_token
    portal.token_expires_at = pair.expires_at
    fields = ["access_token", "refresh_token", "token_expires_at"]
    if portal.status == Portal.Status.NEEDS_REAUTH:
        portal.status = Portal.Status.ACTIVE
        fields.append("status")
    portal.save(update_fields=fields)
