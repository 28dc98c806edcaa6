"""Reading what a portal pays for from its CRM (install, daily, each app page open)."""

from __future__ import annotations

from datetime import datetime

from crmapp.models import Portal
from crmapp.tiers import portal_paid_state_apply
from integrations.importer import portal_history_backfill_begin
from integrations.registry import adapter_for


def portal_paid_state_refresh(portal: Portal, *, now: datetime) -> str | None:
    """Ask the CRM for the paid state and store it; when the tier now keeps more history than
    the mirror holds, begin the backfill and return its import run id (the caller enqueues
    it). Raises CrmError when the CRM cannot be asked."""
    state = adapter_for(portal).paid_state()
    portal_paid_state_apply(portal, tier=state.tier, days_left=state.days_left, now=now)
    return portal_history_backfill_begin(portal, now=now)
