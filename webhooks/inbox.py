"""Storing, claiming and settling inbox rows (no CRM calls here)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F

from crmapp.models import Portal
from webhooks.models import InboundEvent

MAX_ATTEMPTS = 8


def _claim_timeout() -> timedelta:
    """A claimed row not settled within this time belongs to a worker that died."""
    return timedelta(seconds=settings.INBOX_CLAIM_TIMEOUT_SECONDS)


def inbound_event_store(
    portal: Portal,
    *,
    body: str,
    name: str,
    entity_type: str,
    action: str,
    entity_id: int | None,
    now: datetime,
    part: str = "",
) -> None:
    """Keep the event, in one INSERT … ON CONFLICT statement.

    A duplicate lands on the same row and makes it pending again: the entity may have changed
    since the row was applied, or while it is being applied (the worker then leaves it
    pending), and since we re-read current state, applying it twice is harmless.
    """
    event = InboundEvent(
        portal=portal,
        key=hashlib.sha256((body + part).encode()).hexdigest(),
        name=name,
        entity_type=entity_type,
        action=action,
        entity_id=entity_id,
        body=body,
        received_at=now,
        next_attempt_at=now,
        status=InboundEvent.Status.PENDING,
        attempts=0,
    )
    InboundEvent.objects.bulk_create(
        [event],
        update_conflicts=True,
        unique_fields=["portal", "key"],
        update_fields=["status", "attempts", "next_attempt_at"],
    )


def portal_inbox_drain_wanted(portal: Portal) -> bool:
    """True if no drain of this portal is already queued (and mark one as queued).

    Coalesces a burst: the first event of a portal enqueues a drain, the following ones find
    it queued and ride along; the drain clears the mark before it claims rows, so an event
    stored after that enqueues the next one. A lost drain message is the sweeper's to repair.
    """
    return cache.add(_drain_key(portal.pk), 1, timeout=int(_claim_timeout().total_seconds()))


def portal_inbox_drain_started(portal_id: int) -> None:
    cache.delete(_drain_key(portal_id))


def _drain_key(portal_id: int) -> str:
    return f"inbox-drain-queued:{portal_id}"


@transaction.atomic
def portal_inbox_claim(portal: Portal, *, now: datetime, limit: int = 500) -> list[InboundEvent]:
    """Take due rows for processing (and rows of a worker that died holding them)."""
    due = InboundEvent.objects.for_portal(portal).filter(
        status=InboundEvent.Status.PENDING, next_attempt_at__lte=now
    ) | InboundEvent.objects.for_portal(portal).filter(
        status=InboundEvent.Status.PROCESSING, claimed_at__lt=now - _claim_timeout()
    )
    ids = list(
        due.select_for_update(skip_locked=True).order_by("id").values_list("id", flat=True)[:limit]
    )
    InboundEvent.objects.for_portal(portal).filter(id__in=ids).update(
        status=InboundEvent.Status.PROCESSING, claimed_at=now, attempts=F("attempts") + 1
    )
    return list(InboundEvent.objects.for_portal(portal).filter(id__in=ids).order_by("id"))


def inbound_events_done(portal: Portal, events: list[InboundEvent], *, now: datetime) -> None:
    InboundEvent.objects.for_portal(portal).filter(
        id__in=[e.pk for e in events], status=InboundEvent.Status.PROCESSING
    ).update(status=InboundEvent.Status.DONE, processed_at=now, last_error="")


def inbound_events_failed(
    portal: Portal, events: list[InboundEvent], *, error: str, retryable: bool, now: datetime
) -> None:
    """Back off and retry, or end in the visible dead-letter state."""
    for event in events:
        dead = not retryable or event.attempts >= MAX_ATTEMPTS
        InboundEvent.objects.for_portal(portal).filter(pk=event.pk).update(
            status=InboundEvent.Status.DEAD if dead else InboundEvent.Status.PENDING,
            next_attempt_at=now + timedelta(seconds=min(3600, 5 * 2**event.attempts)),
            last_error=error[:2000],
        )


def portals_with_due_events(*, now: datetime) -> list[int]:
    """Portals whose inbox holds due pending rows or rows claimed too long ago.

    The one cross-portal read of the inbox: it returns ids only, for the sweeper.
    """
    pending = InboundEvent.all_portals.filter(
        status=InboundEvent.Status.PENDING, next_attempt_at__lte=now
    )
    stale = InboundEvent.all_portals.filter(
        status=InboundEvent.Status.PROCESSING, claimed_at__lt=now - _claim_timeout()
    )
    return sorted(
        set(pending.values_list("portal_id", flat=True))
        | set(stale.values_list("portal_id", flat=True))
    )
