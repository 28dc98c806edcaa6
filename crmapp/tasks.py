from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from crmapp.lifecycle import portals_purge_uninstalled as purge
from crmapp.models import Portal
from crmapp.retention import portal_history_purge as history_purge
from crmapp.retention import portals_to_purge


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def portals_purge_uninstalled() -> list[str]:
    return purge(now=timezone.now())


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def portal_history_purge(portal_id: int) -> dict[str, int]:
    return history_purge(Portal.objects.get(pk=portal_id), now=timezone.now())


@shared_task
def portals_history_purge() -> int:
    """Nightly: each portal's history from before its tier's window."""
    portals = portals_to_purge()
    for portal_id in portals:
        portal_history_purge.delay(portal_id)
    return len(portals)
