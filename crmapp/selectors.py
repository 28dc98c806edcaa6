"""Reads about portals themselves (the only model that is not portal-scoped)."""

from __future__ import annotations

from datetime import datetime

from crmapp.models import Portal
from crmapp.tiers import WINDOW_MONTHS, portal_tier, trial_days_left


def portal_by_key(key: str) -> Portal:
    """The portal a CLI user names by its domain (Bitrix24) or subdomain (amoCRM)."""
    return Portal.objects.get(key=key)


def portal_summary(portal: Portal, *, now: datetime) -> dict:
    tier = portal_tier(portal, now=now)
    return {
        "key": portal.key,
        "kind": portal.kind,
        "status": portal.status,
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


def portal_summaries(*, now: datetime) -> list[dict]:
    return [portal_summary(portal, now=now) for portal in Portal.objects.order_by("kind", "key")]
