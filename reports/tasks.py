"""Celery entry points of the reports: ids in, one service call."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from crmapp.models import Portal
from reports.aggregates import facts_check, facts_rebuild


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
