"""The nightly purge: history older than the tier's window leaves the database.

Only these tables are touched: the mirror of leads, deals, stage history and activities, and
the daily and monthly aggregates; the directory, the settings and everything a
user entered (plans, weights, thresholds) are never purged.

A mirror row goes only when every date it has falls before the window: an old deal that is
still open, or was touched, moved or closed inside the window, stays, with its whole stage
history (the "in work" steps inside the window are reconstructed from it) and its activities
(its last touch is derived from them). So everything a purged row contributed to the
aggregates was on days before the window, and a recount of the window's days from the mirror
still equals the stored aggregates.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.db.models import Q

from crmapp.hooks import facts_writer
from crmapp.models import Activity, Deal, Lead, Portal, Semantic, StageChange
from crmapp.tiers import WINDOW_MONTHS, portal_tier, window_first_day_start

log = logging.getLogger(__name__)

OWNERS = {"lead": Lead, "deal": Deal}


def _before(cutoff: datetime, *fields: str, nullable: tuple[str, ...] = ()) -> Q:
    """Every named date is before `cutoff` (a nullable one may also be empty)."""
    where = Q()
    for name in fields:
        where &= Q(**{f"{name}__lt": cutoff})
    for name in nullable:
        where &= Q(**{f"{name}__isnull": True}) | Q(**{f"{name}__lt": cutoff})
    return where


def _raw_delete(queryset) -> int:
    return queryset._raw_delete(queryset.db)


@transaction.atomic
def portal_history_purge(portal: Portal, *, now: datetime) -> dict[str, int]:
    """Delete the portal's history from before its tier's window; returns rows deleted per
    table. A running import is left alone (it may be backfilling that very history)."""
    portal = Portal.objects.select_for_update().get(pk=portal.pk)
    if portal.import_phase != Portal.ImportPhase.DONE:
        return {}
    cutoff = window_first_day_start(portal, now=now)
    deleted = {}
    for entity_type, model in OWNERS.items():
        moved_since = StageChange.objects.for_portal(portal).filter(
            entity_type=entity_type, changed_at__gte=cutoff
        )
        nullable = ("closed_at", "moved_at") + (("close_date",) if model is Deal else ())
        dated = _before(cutoff, "created_at", "modified_at", "last_touch_at", nullable=nullable)
        old = (
            model.objects.for_portal(portal)
            .exclude(semantic=Semantic.OPEN)
            .filter(dated)
            .exclude(crm_id__in=moved_since.values("owner_crm_id"))
        )
        deleted[entity_type] = _raw_delete(old)
    deleted["stage_change"] = sum(
        _raw_delete(
            StageChange.objects.for_portal(portal)
            .filter(entity_type=entity_type, changed_at__lt=cutoff)
            .exclude(owner_crm_id__in=model.objects.for_portal(portal).values("crm_id"))
        )
        for entity_type, model in OWNERS.items()
    )
    activities = Activity.objects.for_portal(portal).filter(
        _before(cutoff, "created_at", nullable=("deadline", "completed_at"))
    )
    for entity_type, model in OWNERS.items():
        kept = model.objects.for_portal(portal).values("crm_id")
        activities = activities.exclude(Q(owner_type=entity_type) & Q(owner_crm_id__in=kept))
    deleted["activity"] = _raw_delete(activities)
    deleted["aggregates"] = facts_writer().facts_forget_before(portal, cutoff.date())
    months = min(portal.history_months, WINDOW_MONTHS[portal_tier(portal, now=now)])
    Portal.objects.filter(pk=portal.pk).update(history_months=months)
    log.info("purged history of %s before %s: %s", portal, cutoff.date(), deleted)
    return deleted


def portals_to_purge() -> list[int]:
    """Installed portals whose history is complete (an uninstalled one waits for its own
    purge, crmapp.lifecycle)."""
    return list(
        Portal.objects.exclude(status=Portal.Status.UNINSTALLED)
        .filter(import_phase=Portal.ImportPhase.DONE)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
