"""amoCRM's "access revoked" hook: GET /amocrm/revoked/?account_id&client_uuid&signature.

amoCRM calls it when an admin disables our integration (AMOCRM.md §6.5), signed with our
client secret: signature = hex HMAC-SHA256(client_secret, client_uuid + "|" + account_id).
A verified call disables the portal at once; its data goes after the retention period
(UNINSTALL_RETENTION_DAYS, 30) unless the account installs again before.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from crmapp.lifecycle import portal_uninstall, portal_uninstall_confirmed
from crmapp.models import Portal

log = logging.getLogger(__name__)


def revoked_signature(client_uuid: str, account_id: str, *, secret: str) -> str:
    message = f"{client_uuid}|{account_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def purge_after(now: datetime) -> datetime:
    return now + timedelta(days=settings.UNINSTALL_RETENTION_DAYS)


def portal_revoke(portal: Portal, *, now: datetime) -> None:
    """Disable now; amoCRM has revoked our tokens already, so drop them and set the purge day."""
    with transaction.atomic():
        portal_uninstall(portal, purge_after=purge_after(now), now=now)
        portal_uninstall_confirmed(portal, purge_after=purge_after(now))


def _refuse(status: int, message: str) -> HttpResponse:
    log.warning("amoCRM access-revoked hook refused (%s): %s", status, message)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


@require_GET
def access_revoked(request: HttpRequest) -> HttpResponse:
    account_id = request.GET.get("account_id", "")
    client_uuid = request.GET.get("client_uuid", "")
    signature = request.GET.get("signature", "")
    if not (account_id.isdigit() and client_uuid and signature):
        return _refuse(400, "account_id, client_uuid and signature are required")
    expected = revoked_signature(client_uuid, account_id, secret=settings.AMOCRM_CLIENT_SECRET)
    if client_uuid != settings.AMOCRM_CLIENT_ID or not hmac.compare_digest(expected, signature):
        return _refuse(403, "the signature does not verify")
    portal = Portal.objects.filter(kind=Portal.Kind.AMOCRM, member_id=account_id).first()
    if portal is None:
        return _refuse(404, "no such account has our integration installed")
    if portal.status != Portal.Status.UNINSTALLED:
        portal_revoke(portal, now=timezone.now())
        log.info("amoCRM access revoked for %s: disabled, purge after %s days", portal,
                 settings.UNINSTALL_RETENTION_DAYS)  # fmt: skip
    return HttpResponse("ok", content_type="text/plain")
