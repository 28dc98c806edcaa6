"""Services that end a portal's life: deleting its data when it was uninstalled."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction

from crmapp.hooks import portal_data_models
from crmapp.models import (
    Activity,
    Deal,
    Department,
    Employee,
    Lead,
    Pipeline,
    Portal,
    Source,
    Stage,
    StageChange,
)

log = logging.getLogger(__name__)

# Children before parents, so no row ever points at a deleted one mid-way (the apps above
# register their portal data, the aggregates, to go first: crmapp.hooks).
MIRROR_MODELS = (
    StageChange,
    Activity,
    Deal,
    Lead,
    Stage,
    Pipeline,
    Source,
    Employee,
    Department,
)


@transaction.atomic
def portal_data_delete(portal: Portal) -> int:
    """Delete everything the CRM account sent us, then the portal itself; returns rows deleted."""
    deleted = 0
    for model in (*portal_data_models(), *MIRROR_MODELS):
        deleted += model.objects.for_portal(portal)._raw_delete(model.objects.db)
    portal.delete()
    return deleted + 1


def portals_purge_uninstalled(*, now: datetime) -> list[str]:
    """Delete the data of portals uninstalled long enough ago (a reinstall before keeps it)."""
    purged = []
    due = Portal.objects.filter(status=Portal.Status.UNINSTALLED, purge_after__lte=now)
    for portal in due.order_by("id"):
        rows = portal_data_delete(portal)
        log.info("purged uninstalled portal %s: %d rows", portal, rows)
        purged.append(portal.key)
    return purged


def portal_uninstall(portal: Portal, *, purge_after: datetime, now: datetime) -> None:
    """Disable the portal at once; its data goes at `purge_after` unless it is reinstalled.

    The tokens stay until the uninstall is confirmed (portal_uninstall_confirmed): they are
    what tells a genuine uninstall, after which the CRM refuses them, from a replayed one.
    """
    Portal.objects.filter(pk=portal.pk).update(
        status=Portal.Status.UNINSTALLED, uninstalled_at=now, purge_after=purge_after
    )


def portal_uninstall_confirmed(portal: Portal, *, purge_after: datetime) -> None:
    """The CRM revoked our tokens: the uninstall is real, drop them and set the purge day."""
    Portal.objects.filter(pk=portal.pk, status=Portal.Status.UNINSTALLED).update(
        purge_after=purge_after, access_token="", refresh_token=""
    )


def portal_uninstall_revert(portal: Portal) -> None:
    """The CRM still honours our tokens: the app is installed and the uninstall was forged."""
    log.error("ALERT: forged uninstall of %s (the CRM still honours its tokens): reverted", portal)
    Portal.objects.filter(pk=portal.pk, status=Portal.Status.UNINSTALLED).update(
        status=Portal.Status.ACTIVE, uninstalled_at=None, purge_after=None
    )
