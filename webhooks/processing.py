"""Applying inbox events: re-read the current state of what changed, then mirror it.

A CRM sends only the id of a changed entity, in no guaranteed order and possibly twice, so
an event is a hint: the entity is fetched as it is now. A burst of events of one portal is
applied as one batch (one list call per entity type).
"""

from __future__ import annotations

import logging
from collections import defaultdict

from crmapp.models import Portal
from integrations.registry import crm
from integrations.sync import entities_delete, entities_refresh
from webhooks.models import InboundEvent

log = logging.getLogger(__name__)


def inbox_apply(portal: Portal, events: list[InboundEvent]) -> None:
    """Apply a claimed batch of CRM entity events (CrmError when the CRM cannot be read)."""
    upserts: dict[str, set[int]] = defaultdict(set)
    deletes: dict[str, set[int]] = defaultdict(set)
    for event in events:
        if event.action == "upsert":
            upserts[event.entity_type].add(event.entity_id)
        elif event.action == "delete":
            deletes[event.entity_type].add(event.entity_id)
    for entity_type, ids in deletes.items():
        # A later add of the same id in this batch wins (ids are never reused, but be safe).
        entities_delete(portal, entity_type, ids - upserts[entity_type])
    if any(upserts.values()):
        entities_refresh(portal, upserts)


def lifecycle_install_confirm(portal: Portal, event: InboundEvent) -> None:
    """The CRM's install event, confirmed with the CRM before its secret is kept."""
    crm(portal.kind).install_event_confirm(portal, event.body)
