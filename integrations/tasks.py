"""Celery entry points of the integrations: ids in, one service call, the retry policy."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from crmapp.models import Portal
from integrations import reconcile
from integrations.errors import CrmError
from integrations.importer import (
    DIRECTORY,
    portal_history_backfill_begin,
    portal_import_begin,
    portal_import_chunk,
    portal_import_fail,
    portal_import_unfinished_parts,
    portals_import_stalled,
)
from integrations.paid_state import portal_paid_state_refresh as paid_state_refresh
from integrations.registry import CRMS, adapter_for, crm

log = logging.getLogger(__name__)
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
    try:
        # The paid state first, so the import asks for the window the tier keeps.
        run = paid_state_refresh(portal, now=timezone.now())
    except CrmError as error:
        log.warning("paid state of %s not read at install (read again daily): %s", portal, error)
        run = None
    if run is None and portal.import_phase == Portal.ImportPhase.DONE:
        # A reinstall finds its mirror and aggregates: catch up on what changed while the app
        # was away instead of emptying the reports for a full import.
        log.info("%s reinstalled with its data: reconciling instead of re-importing", portal)
        portal_reconcile.delay(portal_id)
        portal_reconcile.delay(portal_id, True)
        return
    run = run or portal_import_begin(portal, now=timezone.now())
    portal_import.delay(portal_id, run)


@shared_task(bind=True, acks_late=True, max_retries=5)
def portal_paid_state_refresh(self, portal_id: int) -> None:
    """Read the paid state from the CRM; an upgrade starts the history backfill."""
    portal = Portal.objects.get(pk=portal_id)
    try:
        run = paid_state_refresh(portal, now=timezone.now())
    except CrmError as error:
        if error.retryable:
            raise self.retry(exc=error, countdown=min(600, 30 * 2**self.request.retries)) from error
        raise
    if run:
        portal_import.delay(portal_id, run)


@shared_task
def portals_paid_state_refresh() -> int:
    """Daily: the paid state of every installed portal of a registered CRM."""
    portals = Portal.objects.filter(kind__in=list(CRMS), status=Portal.Status.ACTIVE).values_list(
        "pk", flat=True
    )
    for portal_id in portals:
        portal_paid_state_refresh.delay(portal_id)
    return len(portals)


@shared_task
def portal_history_backfill(portal_id: int) -> None:
    """After an operator's upgrade: import the newly allowed history, if any."""
    run = portal_history_backfill_begin(Portal.objects.get(pk=portal_id), now=timezone.now())
    if run:
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


@shared_task(bind=True, acks_late=True, max_retries=8)
def portal_uninstall_confirm(self, portal_id: int, clean: bool) -> bool:
    """After ONAPPUNINSTALL: confirm it with the CRM before any data goes."""
    portal = Portal.objects.filter(pk=portal_id, status=Portal.Status.UNINSTALLED).first()
    if portal is None:
        return False
    try:
        confirmed = crm(portal.kind).uninstall_confirm(portal, clean=clean, now=timezone.now())
    except CrmError as error:
        raise self.retry(exc=error, countdown=min(600, 30 * 2**self.request.retries)) from error
    if confirmed and clean:
        from crmapp.tasks import portals_purge_uninstalled

        portals_purge_uninstalled.delay()
    return confirmed
