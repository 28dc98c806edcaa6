"""Bringing named CRM entities in the mirror up to date (events and reconciliation alike)."""

from __future__ import annotations

from django.db import transaction

from crmapp.models import Portal
from integrations import mirror
from integrations.registry import adapter_for


def entities_refresh(portal: Portal, ids: dict[str, set[int]]) -> None:
    """Fetch the named leads, deals and activities as they are now and mirror them;
    ids the CRM no longer returns were deleted. Everything is read first, then written in
    one transaction, so a reader never sees a deal without its new history."""
    adapter = adapter_for(portal)
    fetched = {
        entity_type: (wanted, *adapter.entities_current(entity_type, wanted))
        for entity_type in ("lead", "deal")
        if (wanted := ids.get(entity_type, set()))
    }
    activity_ids = ids.get("activity", set())
    activities = adapter.activities_by_id(activity_ids) if activity_ids else []

    upsert = {"lead": mirror.mirror_leads_upsert, "deal": mirror.mirror_deals_upsert}
    refresh = {"lead": mirror.leads_derived_refresh, "deal": mirror.deals_derived_refresh}
    with transaction.atomic():
        for entity_type, (wanted, records, history, owned) in fetched.items():
            upsert[entity_type](portal, records, derive=False)
            mirror.mirror_stage_changes_upsert(portal, history, derive=False)
            mirror.mirror_activities_upsert(portal, owned, derive=False)
            refresh[entity_type](portal, wanted)
            if gone := wanted - {record.crm_id for record in records}:
                mirror.mirror_delete(portal, entity_type, gone)
        if activity_ids:
            mirror.mirror_activities_upsert(portal, activities)
            if gone := activity_ids - {record.crm_id for record in activities}:
                mirror.mirror_delete(portal, "activity", gone)
