"""Bringing named CRM entities in the mirror up to date (events and reconciliation alike)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction

from crmapp.hooks import facts_writer
from crmapp.models import Portal
from integrations import mirror
from integrations.records import ActivityRecord
from integrations.registry import adapter_for

UPSERT = {"lead": mirror.mirror_leads_upsert, "deal": mirror.mirror_deals_upsert}
DERIVE = {"lead": mirror.leads_derived_refresh, "deal": mirror.deals_derived_refresh}


@dataclass
class CurrentState:
    """What the CRM says now about the entities an event or a reconciliation named."""

    # entity type → (ids asked for, records, their stage history, their activities)
    owners: dict[str, tuple[set[int], list, list, list]] = field(default_factory=dict)
    activity_ids: set[int] = field(default_factory=set)
    activities: list[ActivityRecord] = field(default_factory=list)

    def refs(self) -> dict[str, set[int]]:
        """Every entity this state rewrites: the named ones and the activities they own."""
        refs = {entity_type: set(wanted) for entity_type, (wanted, *_) in self.owners.items()}
        refs["activity"] = self.activity_ids | {
            record.crm_id for *_, owned in self.owners.values() for record in owned
        }
        return refs


def entities_refresh(portal: Portal, ids: dict[str, set[int]]) -> None:
    """Fetch the named leads, deals and activities as they are now and mirror them."""
    entities_apply(portal, entities_fetch(portal, ids))


def entities_fetch(portal: Portal, ids: dict[str, set[int]]) -> CurrentState:
    adapter = adapter_for(portal)
    state = CurrentState(activity_ids=set(ids.get("activity", set())))
    for entity_type in ("lead", "deal"):
        if wanted := set(ids.get(entity_type, set())):
            state.owners[entity_type] = (wanted, *adapter.entities_current(entity_type, wanted))
    if state.activity_ids:
        state.activities = adapter.activities_by_id(state.activity_ids)
    return state


@transaction.atomic
def entities_apply(portal: Portal, state: CurrentState) -> None:
    """Write the current state in one transaction, so a reader never sees a deal without its
    new history or an aggregate out of step with the mirror; ids the CRM no longer returned
    were deleted."""
    portal = Portal.objects.select_for_update().get(pk=portal.pk)
    with facts_writer().facts_tracking(portal, state.refs()):
        for entity_type, (wanted, records, history, owned) in state.owners.items():
            UPSERT[entity_type](portal, records, derive=False)
            mirror.mirror_stage_changes_upsert(portal, history, derive=False)
            mirror.mirror_activities_upsert(portal, owned, derive=False)
            DERIVE[entity_type](portal, wanted)
            if gone := wanted - {record.crm_id for record in records}:
                mirror.mirror_delete(portal, entity_type, gone)
        if state.activity_ids:
            mirror.mirror_activities_upsert(portal, state.activities)
            if gone := state.activity_ids - {record.crm_id for record in state.activities}:
                mirror.mirror_delete(portal, "activity", gone)


@transaction.atomic
def entities_delete(portal: Portal, entity_type: str, crm_ids: set[int]) -> None:
    """Remove entities the CRM no longer has, with their share of the aggregates."""
    portal = Portal.objects.select_for_update().get(pk=portal.pk)
    with facts_writer().facts_tracking(portal, {entity_type: crm_ids}):
        mirror.mirror_delete(portal, entity_type, crm_ids)
