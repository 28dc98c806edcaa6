"""Receiving one CRM event: verify → resolve portal → store → wake, whichever the CRM.

Each CRM's receiver (webhooks/<crm>/views.py) hands its request here with the CRM's kind;
how its body parses and what proves its sender is the CRM's folder's business.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from crmapp.models import Portal
from integrations.errors import InvalidPayload
from integrations.registry import crm
from webhooks.inbox import (
    inbound_event_store,
    portal_inbox_drain_started,
    portal_inbox_drain_wanted,
)

log = logging.getLogger(__name__)


def event_receive(request: HttpRequest, kind: str, *, proof: str | None = None) -> HttpResponse:
    """Answer a CRM's event request; 200 only once its events are stored (committed).

    A body may name several entities (the CRM's parser returns a list then); `proof` is what
    proves the sender when the CRM puts it outside the body (a secret in the hook's URL).
    """
    the_crm = crm(kind)
    try:
        body = request.body.decode("utf-8")
        parsed = the_crm.event_parse(body)
    except (UnicodeDecodeError, InvalidPayload) as error:
        return _refuse(400, f"malformed {the_crm.NAME} event: {error}", request, kind)
    events = parsed if isinstance(parsed, list) else [parsed]
    if proof is not None:
        events = [dataclasses.replace(event, proof=proof) for event in events]
    portal = the_crm.event_portal(events[0])
    if portal is None:
        return _refuse(404, "unknown portal: the application is not installed there", request, kind)
    if not all(the_crm.event_verified(portal, event) for event in events):
        return _refuse(403, "application_token does not match this portal", request, kind)
    events = [event for event in events if event.known]
    if not events:
        return HttpResponse("ignored", content_type="text/plain")
    now = timezone.now()

    def store() -> None:
        # Stored (committed: one statement each in autocommit) before anything is enqueued
        # or answered.
        for event in events:
            inbound_event_store(
                portal,
                body=body,
                name=event.name,
                entity_type=event.entity_type,
                action=event.action,
                entity_id=event.entity_id,
                now=now,
                part=f"|{event.entity_type}|{event.action}|{event.entity_id}"
                if len(events) > 1
                else "",
            )

    if len(events) == 1 and events[0].lifecycle == "uninstall":
        with transaction.atomic():
            store()
            the_crm.uninstall_event_receive(portal, events[0], now=now)
    else:
        store()
        _drain_wake(portal)
    return HttpResponse("ok", content_type="text/plain")


def _refuse(status: int, message: str, request: HttpRequest, kind: str) -> HttpResponse:
    log.warning(
        "%s event refused (%s) from %s: %s", kind, status, request.META.get("REMOTE_ADDR"), message
    )
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


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
