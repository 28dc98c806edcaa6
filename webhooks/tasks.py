from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from crmapp.models import Portal
from integrations.errors import CrmError, InvalidPayload
from integrations.registry import crm
from webhooks.inbox import (
    inbound_events_done,
    inbound_events_failed,
    portal_inbox_claim,
    portal_inbox_drain_started,
    portals_with_due_events,
)
from webhooks.processing import inbox_apply, lifecycle_install_confirm


@shared_task(acks_late=True)
def portal_inbox_drain(portal_id: int) -> int:
    """Apply what is due in the portal's inbox; failures back off or go to dead letters."""
    portal = Portal.objects.get(pk=portal_id)
    portal_inbox_drain_started(portal_id)
    events = portal_inbox_claim(portal, now=timezone.now())
    installs = [e for e in events if not e.entity_type and _is_install(portal, e)]
    for event in installs:
        try:
            lifecycle_install_confirm(portal, event)
        except InvalidPayload as error:
            inbound_events_failed(
                portal, [event], error=str(error), retryable=False, now=timezone.now()
            )
        else:
            inbound_events_done(portal, [event], now=timezone.now())
    entity_events = [e for e in events if e.entity_type]
    try:
        inbox_apply(portal, entity_events)
    except CrmError as error:
        inbound_events_failed(
            portal, entity_events, error=str(error), retryable=error.retryable, now=timezone.now()
        )
        raise
    # Entity events, and lifecycle events already acted on when they were received.
    inbound_events_done(portal, [e for e in events if e not in installs], now=timezone.now())
    return len(events)


def _is_install(portal: Portal, event) -> bool:
    return crm(portal.kind).event_parse(event.body).lifecycle == "install"


@shared_task
def inbox_sweep() -> int:
    """Re-enqueue inboxes with due retries or rows a dead worker left claimed (lost broker
    messages included): the database, not the broker, is the record of what is owed."""
    portal_ids = portals_with_due_events(now=timezone.now())
    for portal_id in portal_ids:
        portal_inbox_drain.delay(portal_id)
    return len(portal_ids)
