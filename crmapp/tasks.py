from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from crmapp.lifecycle import portals_purge_uninstalled as purge


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def portals_purge_uninstalled() -> list[str]:
    return purge(now=timezone.now())
