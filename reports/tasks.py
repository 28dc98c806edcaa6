"""Celery entry points of the reports: ids in, one service call."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from crmapp.models import Portal
from integrations.errors import CrmError
from reports.aggregates import facts_check, facts_rebuild
from reports.digest import portal_digest_send, portals_digest_due


@shared_task
def portal_facts_check(portal_id: int) -> bool:
    """Compare a sample of the portal's aggregates with a recount; true when they agree."""
    return facts_check(Portal.objects.get(pk=portal_id), now=timezone.now()).ok


@shared_task
def portals_facts_check() -> int:
    """Self-check every portal whose aggregates are complete (import done)."""
    ready = Portal.objects.filter(
        status=Portal.Status.ACTIVE, import_phase=Portal.ImportPhase.DONE
    ).values_list("pk", flat=True)
    for portal_id in ready:
        portal_facts_check.delay(portal_id)
    return len(ready)


@shared_task
def portal_facts_rebuild(portal_id: int) -> None:
    facts_rebuild(Portal.objects.get(pk=portal_id))


@shared_task
def portals_digest() -> int:
    """Every few minutes: send the digests whose time has come."""
    due = portals_digest_due(now=timezone.now())
    for portal_id in due:
        portal_digest.delay(portal_id)
    return len(due)


@shared_task(autoretry_for=(CrmError,), retry_backoff=60, max_retries=5)
def portal_digest(portal_id: int) -> None:
    portal_digest_send(Portal.objects.get(pk=portal_id), now=timezone.now())
