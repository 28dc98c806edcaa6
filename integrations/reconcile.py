"""Reconciliation: repair what lost events missed.

Bitrix24 does not retry a failed delivery, sends nothing for changes made before our handler
was bound or while it was down, and fires ONCRMDEALMOVETOCATEGORY instead of an update on a
pipeline change (https://apidocs.bitrix24.com/api-reference/events/index.html). So every few
minutes everything modified since the last pass is re-read, and once a day the id sets are
compared to find deletions.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from itertools import batched

from crmapp.models import Activity, Deal, Lead, Portal
from integrations.registry import adapter_for
from integrations.sync import entities_delete, entities_refresh

log = logging.getLogger(__name__)

# Overlap with the previous pass: clocks of the CRM and ours differ, and a change committed
# while the last pass was listing may carry a slightly earlier DATE_MODIFY.
MARGIN = timedelta(minutes=5)
REFRESH_BATCH = 200
MIRRORED = {"lead": Lead, "deal": Deal, "activity": Activity}


def portal_reconcile(portal: Portal, *, now: datetime) -> dict[str, int]:
    """Re-read every lead, deal and activity modified since the last pass; `now` (taken
    before listing) becomes the next pass's starting point."""
    since = (portal.reconciled_at or portal.import_started_at or now) - MARGIN
    changed = adapter_for(portal).changed_since(since)
    for entity_type, ids in changed.items():
        for chunk in batched(sorted(ids), REFRESH_BATCH):
            entities_refresh(portal, {entity_type: set(chunk)})
    Portal.objects.filter(pk=portal.pk).update(reconciled_at=now)
    counts = {entity_type: len(ids) for entity_type, ids in changed.items()}
    log.info("reconciled %s since %s: %s", portal, since.isoformat(), counts)
    return counts


def portal_deletions_reconcile(portal: Portal) -> dict[str, int]:
    """Remove mirrored leads, deals and activities the CRM no longer has."""
    adapter = adapter_for(portal)
    removed = {}
    for entity_type, model in MIRRORED.items():
        theirs = adapter.all_ids(entity_type)
        ours = set(model.objects.for_portal(portal).values_list("crm_id", flat=True))
        gone = ours - theirs
        if gone:
            entities_delete(portal, entity_type, gone)
        removed[entity_type] = len(gone)
    log.info("deletions reconciled for %s: %s", portal, removed)
    return removed


def portals_to_reconcile() -> list[Portal]:
    """Active portals whose history import is complete (before that, the import covers it)."""
    return list(
        Portal.objects.filter(status=Portal.Status.ACTIVE, import_phase=Portal.ImportPhase.DONE)
    )
