"""POST /bitrix24/events/: verify → resolve portal → store → enqueue on commit → 200."""

from __future__ import annotations

import contextlib
import functools
import hmac
import logging

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from crmapp.lifecycle import portal_uninstall
from crmapp.models import Portal
from integrations.bitrix24.install import uninstall_purge_after
from integrations.errors import InvalidPayload
from webhooks.bitrix24.parse import bitrix24_event_parse
from webhooks.inbox import (
    inbound_event_store,
    portal_inbox_drain_started,
    portal_inbox_drain_wanted,
)

log = logging.getLogger(__name__)


def _refuse(status: int, message: str, request: HttpRequest) -> HttpResponse:
    log.warning(
        "bitrix24 event refused (%s) from %s: %s", status, request.META.get("REMOTE_ADDR"), message
    )
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


@csrf_exempt
@require_POST
def bitrix24_events(request: HttpRequest) -> HttpResponse:
    try:
        body = request.body.decode("utf-8")
        event = bitrix24_event_parse(body)
    except (UnicodeDecodeError, InvalidPayload) as error:
        return _refuse(400, f"malformed Bitrix24 event: {error}", request)
    portal = (
        Portal.objects.filter(kind=Portal.Kind.BITRIX24, member_id=event.member_id)
        .only("id", "status", "application_token", "key")
        .first()
    )
    if portal is None or portal.status == Portal.Status.UNINSTALLED:
        return _refuse(404, "unknown portal: the application is not installed there", request)
    if not _verified(portal, event):
        return _refuse(403, "application_token does not match this portal", request)
    if not event.is_known:
        return HttpResponse("ignored", content_type="text/plain")

    now = timezone.now()
    # Stored (committed: one statement in autocommit) before anything is enqueued or answered.
    store = functools.partial(
        inbound_event_store,
        portal,
        body=body,
        name=event.name,
        entity_type=event.entity_type,
        action=event.action,
        entity_id=event.entity_id,
        now=now,
    )
    if event.name == "ONAPPUNINSTALL":
        from integrations.tasks import portal_uninstall_confirm

        # Disabled at once, but nothing is deleted (CLEAN=1 or not) until the CRM confirms.
        with transaction.atomic():
            store()
            portal_uninstall(portal, purge_after=uninstall_purge_after(now, clean=False), now=now)
            transaction.on_commit(lambda: portal_uninstall_confirm.delay(portal.pk, event.clean))
    else:
        store()
        _drain_wake(portal)
    return HttpResponse("ok", content_type="text/plain")


def _drain_wake(portal: Portal) -> None:
    """Ask a worker to apply the portal's inbox now. The event is already stored, so if the
    cache or the broker is down the answer is still 200: the sweeper applies it later."""
    from webhooks.tasks import portal_inbox_drain

    try:
        if portal_inbox_drain_wanted(portal):
            portal_inbox_drain.delay(portal.pk)
    except Exception:
        log.warning("event of %s stored; no worker could be woken", portal, exc_info=True)
        with contextlib.suppress(Exception):
            portal_inbox_drain_started(portal.pk)  # let the next event try again


def _verified(portal: Portal, event) -> bool:
    """Bitrix24 signs nothing; the per-installation application_token is the proof."""
    if portal.application_token:
        return hmac.compare_digest(portal.application_token, event.application_token)
    # Before ONAPPINSTALL has told us the token, only ONAPPINSTALL itself is let in; its
    # processing confirms it through app.info before anything is trusted.
    return event.name == "ONAPPINSTALL"
