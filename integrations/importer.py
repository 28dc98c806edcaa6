"""History import: chunked, resumable, with progress (CRM-agnostic).

Each chunk fetches one page from the CRM outside any transaction (a token refresh must
commit on its own), then, in one transaction, checks the run is still current, upserts the
page and advances the cursor. A worker killed between the two simply redoes the chunk; the
upsert is idempotent, so nothing is duplicated.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from crmapp.models import Deal, Lead, Portal
from crmapp.tiers import window_start
from integrations import mirror
from integrations.registry import adapter_for

log = logging.getLogger(__name__)

CHUNK = 5000
DERIVE_CHUNK = 2000
UPSERT = {
    "lead": lambda portal, records: mirror.mirror_leads_upsert(portal, records),
    "deal": lambda portal, records: mirror.mirror_deals_upsert(portal, records),
    "activity": lambda portal, records: mirror.mirror_activities_upsert(
        portal, records, derive=False
    ),
    "deal_history": lambda portal, records: mirror.mirror_stage_changes_upsert(
        portal, records, derive=False
    ),
    "lead_history": lambda portal, records: mirror.mirror_stage_changes_upsert(
        portal, records, derive=False
    ),
}
DERIVED_FROM = {"lead", "deal"}
DERIVE = {
    "derive_deals": (Deal, mirror.deals_derived_refresh),
    "derive_leads": (Lead, mirror.leads_derived_refresh),
}


def portal_import_begin(portal: Portal, *, now: datetime) -> str:
    """Start a new import run (superseding any unfinished one); returns the run id."""
    run = uuid.uuid4().hex
    with transaction.atomic():
        portal = Portal.objects.select_for_update().get(pk=portal.pk)
        portal.import_phase = Portal.ImportPhase.RUNNING
        portal.import_step = "directory"
        portal.import_done = 0
        portal.import_total = 0
        portal.import_started_at = now
        portal.import_beat_at = now
        portal.import_finished_at = None
        portal.import_error = ""
        portal.import_cursor = {
            "run": run,
            "since": window_start(portal, now=now).isoformat(),
            "source": 0,
            "after_id": 0,
        }
        portal.save()
    return run


def portal_import_chunk(portal: Portal, *, run: str) -> bool:
    """Do the next piece of the run; True while there is more to do."""
    cursor = portal.import_cursor
    if cursor.get("run") != run or portal.import_phase != Portal.ImportPhase.RUNNING:
        return False
    adapter = adapter_for(portal)
    since = datetime.fromisoformat(cursor["since"])
    sources = adapter.history_sources(since)
    steps = [source.name for source in sources] + list(DERIVE) + ["done"]
    step = cursor["source"]

    if portal.import_step == "directory":
        return _import_directory(portal, adapter, sources, steps, run=run)
    if step < len(sources):
        source = sources[step]
        records = source.fetch(cursor["after_id"], CHUNK)
        return _apply_page(portal, run, source.entity_type, records, steps, step=step)
    if steps[step] in DERIVE:
        return _derive(portal, run, steps, step=step)
    _finish(portal, run)
    return False


def _import_directory(portal: Portal, adapter, sources, steps: list[str], *, run: str) -> bool:
    departments = adapter.departments()
    employees = adapter.employees()
    pipelines = adapter.pipelines()
    stages, sources_ = adapter.stages_and_sources()
    estimates = [(source, source.estimate()) for source in sources]
    # Every lead and deal is visited once more at the end to derive its last touch.
    total = sum(n for _, n in estimates) + sum(
        n for source, n in estimates if source.entity_type in DERIVED_FROM
    )
    with transaction.atomic():
        if not _still_current(portal, run):
            return False
        mirror.mirror_directory_apply(
            portal,
            departments=departments,
            employees=employees,
            pipelines=pipelines,
            stages=stages,
            sources=sources_,
        )
        _advance(portal, steps, step=0, after_id=0, done=0, total=total)
    return True


def _apply_page(
    portal: Portal, run: str, entity_type: str, records: list, steps: list[str], *, step: int
) -> bool:
    with transaction.atomic():
        if not _still_current(portal, run):
            return False
        UPSERT[entity_type](portal, records)
        if len(records) < CHUNK:
            step, after_id = step + 1, 0
        else:
            after_id = max(int(record.crm_id) for record in records)
        _advance(portal, steps, step=step, after_id=after_id, added=len(records))
    return True


def _derive(portal: Portal, run: str, steps: list[str], *, step: int) -> bool:
    model, refresh = DERIVE[steps[step]]
    after_id = portal.import_cursor["after_id"]
    ids = list(
        model.objects.for_portal(portal)
        .filter(crm_id__gt=after_id)
        .order_by("crm_id")
        .values_list("crm_id", flat=True)[:DERIVE_CHUNK]
    )
    with transaction.atomic():
        if not _still_current(portal, run):
            return False
        refresh(portal, ids)
        if len(ids) < DERIVE_CHUNK:
            step, after_id = step + 1, 0
        else:
            after_id = ids[-1]
        _advance(portal, steps, step=step, after_id=after_id, added=len(ids))
    return True


def _still_current(portal: Portal, run: str) -> bool:
    """Lock the portal row and check no newer run replaced this one (call inside atomic)."""
    fresh = Portal.objects.select_for_update().get(pk=portal.pk)
    portal.import_cursor = fresh.import_cursor
    portal.import_done, portal.import_total = fresh.import_done, fresh.import_total
    return (
        fresh.import_cursor.get("run") == run and fresh.import_phase == Portal.ImportPhase.RUNNING
    )


def _advance(
    portal: Portal,
    steps: list[str],
    *,
    step: int,
    after_id: int,
    added: int = 0,
    done: int | None = None,
    total: int | None = None,
) -> None:
    portal.import_cursor = portal.import_cursor | {"source": step, "after_id": after_id}
    portal.import_step = steps[step]
    portal.import_done = portal.import_done + added if done is None else done
    portal.import_total = max(portal.import_total if total is None else total, portal.import_done)
    Portal.objects.filter(pk=portal.pk).update(
        import_cursor=portal.import_cursor,
        import_step=portal.import_step,
        import_done=portal.import_done,
        import_total=portal.import_total,
        import_beat_at=timezone.now(),
    )


def _finish(portal: Portal, run: str) -> None:
    with transaction.atomic():
        if not _still_current(portal, run):
            return
        now = timezone.now()
        Portal.objects.filter(pk=portal.pk).update(
            import_phase=Portal.ImportPhase.DONE,
            import_step="done",
            import_done=portal.import_total,
            import_finished_at=now,
            data_as_of=now,
        )
    log.info("import of %s finished: %d entities", portal, portal.import_total)


def portals_import_stalled(*, now: datetime, after: timedelta) -> list[tuple[Portal, str]]:
    """Running imports that made no progress for `after` (their next chunk was lost)."""
    stalled = Portal.objects.filter(
        import_phase=Portal.ImportPhase.RUNNING, import_beat_at__lt=now - after
    )
    return [(portal, portal.import_cursor.get("run", "")) for portal in stalled]


def portal_import_fail(portal: Portal, *, run: str, reason: str) -> None:
    with transaction.atomic():
        fresh = Portal.objects.select_for_update().get(pk=portal.pk)
        if fresh.import_cursor.get("run") == run:
            Portal.objects.filter(pk=portal.pk).update(
                import_phase=Portal.ImportPhase.FAILED, import_error=reason
            )
    log.error("import of %s failed: %s", portal, reason)
