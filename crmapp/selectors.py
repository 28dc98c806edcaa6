"""Reads about portals themselves (the only model that is not portal-scoped)."""

from __future__ import annotations

from datetime import datetime, timedelta

from crmapp.models import Portal
from crmapp.tiers import (
    SUBSCRIPTIONS,
    WINDOW_MONTHS,
    portal_tier,
    tier_ends_at,
    trial_days_left,
    window_first_day_start,
    window_shrinks,
)

ENDING_SOON = timedelta(days=7)


def portal_summary(portal: Portal, *, now: datetime) -> dict:
    tier = portal_tier(portal, now=now)
    return {
        "key": portal.key,
        "kind": portal.kind,
        # What the CRM says of the account (unpaid, blocked) is the state an operator acts on.
        "status": portal.crm_state or portal.status,
        "tier": tier,
        "window_months": WINDOW_MONTHS[tier],
        "trial_days_left": trial_days_left(portal, now=now),
        "import": {
            "phase": portal.import_phase,
            "done": portal.import_done,
            "total": portal.import_total,
        },
        "data_as_of": portal.data_as_of.isoformat() if portal.data_as_of else None,
    }


def portal_page_summary(portal: Portal, *, now: datetime) -> dict:
    """The summary and what the app tells about the tier: the first day the reports show,
    when a subscription ends, and whether the next nightly purge deletes history."""
    summary = portal_summary(portal, now=now)
    ends = tier_ends_at(portal, now=now)
    return summary | {
        "window_start": window_first_day_start(portal, now=now).date(),
        "tier_ends_at": ends,
        "ending_soon": summary["tier"] in SUBSCRIPTIONS
        and ends is not None
        and ends - now < ENDING_SOON,
        "purge_pending": window_shrinks(portal, now=now),
    }


def portal_summaries(*, now: datetime) -> list[tuple[Portal, dict]]:
    return [
        (portal, portal_summary(portal, now=now))
        for portal in Portal.objects.order_by("kind", "key")
    ]


def mirror_counts(portal: Portal) -> dict[str, int]:
    """How much of the CRM the mirror holds (the admin's check that the import is complete)."""
    from crmapp.models import Activity, Deal, Employee, Lead, Pipeline

    return {
        "employees": Employee.objects.for_portal(portal).filter(active=True).count(),
        "pipelines": Pipeline.objects.for_portal(portal).count(),
        "leads": Lead.objects.for_portal(portal).count(),
        "deals": Deal.objects.for_portal(portal).count(),
        "activities": Activity.objects.for_portal(portal).count(),
    }


def import_progress(portal: Portal, *, now: datetime) -> dict:
    """Phase, step, done/total, percent and a naive ETA from the rate so far."""
    done, total = portal.import_done, portal.import_total
    percent = (
        100
        if portal.import_phase == Portal.ImportPhase.DONE
        else (int(100 * done / total) if total else 0)
    )
    eta_seconds = None
    if portal.import_phase == Portal.ImportPhase.RUNNING and portal.import_started_at and done:
        elapsed = (now - portal.import_started_at).total_seconds()
        eta_seconds = int(elapsed / done * max(total - done, 0))
    return {
        "phase": portal.import_phase,
        "step": portal.import_step,
        "done": done,
        "total": total,
        "percent": percent,
        "eta_seconds": eta_seconds,
        "error": portal.import_error,
    }
