"""Celery entry points of the integrations: ids in, one service call, the retry policy."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from crmapp.models import Portal
from integrations import reconcile
from integrations.errors import CrmError
from integrations.importer import (
    DIRECTORY,
    portal_import_begin,
    portal_import_chunk,
    portal_import_fail,
    portal_import_unfinished_parts,
    portals_import_stalled,
)
from integrations.registry import adapter_for

STALLED_AFTER = timedelta(minutes=3)


@shared_task(bind=True, acks_late=True, max_retries=12)
def portal_import(self, portal_id: int, run: str, part: str = DIRECTORY) -> None:
    """One chunk of a history import; enqueues what comes next."""
    portal = Portal.objects.get(pk=portal_id)
    try:
        following = portal_import_chunk(portal, run=run, part=part)
    except CrmError as error:
        if error.retryable and self.request.retries < self.max_retries:
            raise self.retry(exc=error, countdown=min(300, 5 * 2**self.request.retries)) from error
        portal_import_fail(portal, run=run, reason=str(error))
        return
    for next_part in following:
        portal_import.delay(portal_id, run, next_part)


@shared_task
def portals_import_resume() -> int:
    """Re-enqueue imports whose next chunk was lost (killed worker, broker restart)."""
    stalled = portals_import_stalled(now=timezone.now(), after=STALLED_AFTER)
    for portal in stalled:
        for part in portal_import_unfinished_parts(portal):
            portal_import.delay(portal.pk, portal.import_cursor.get("run", ""), part)
    return len(stalled)


@shared_task(bind=True, acks_late=True, max_retries=8)
def portal_connect(self, portal_id: int) -> None:
    """After install: bind our event handler (again, if the install page could not), then
    import the history."""
    portal = Portal.objects.get(pk=portal_id)
    try:
        adapter_for(portal).events_bind()
    except CrmError as error:
        if error.retryable:
            raise self.retry(exc=error, countdown=min(300, 5 * 2**self.request.retries)) from error
        raise
    run = portal_import_begin(portal, now=timezone.now())
    portal_import.delay(portal_id, run)


@shared_task(bind=True, acks_late=True, max_retries=5)
def portal_reconcile(self, portal_id: int, deletions: bool = False) -> None:
    portal = Portal.objects.get(pk=portal_id)
    try:
        if deletions:
            reconcile.portal_deletions_reconcile(portal)
        else:
            reconcile.portal_reconcile(portal, now=timezone.now())
    except CrmError as error:
        if error.retryable:
            raise self.retry(exc=error, countdown=min(600, 30 * 2**self.request.retries)) from error
        raise


@shared_task
def portals_reconcile(deletions: bool = False) -> int:
    """Every few minutes: changes lost on the way; nightly (deletions=True): deletions."""
    portals = reconcile.portals_to_reconcile()
    for portal in portals:
        portal_reconcile.delay(portal.pk, deletions)
    return len(portals)
