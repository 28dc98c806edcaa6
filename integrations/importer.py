"""History import: chunked, resumable, parallel per source, with progress (CRM-agnostic).

After the directory (employees, pipelines, stages), every history source (leads, deals,
activities, stage history …) is walked by its own chain of chunk tasks, so the CRM's rate
limit, not our database, bounds the speed. When all are through, each entity type runs its
own lane (crmapp.ImportLane) side by side with the others: its derived fields (last touch,
win time, next step), then its share of the aggregates.

Each chunk fetches one page from the CRM outside any transaction (a token refresh must commit
on its own), then, in one transaction, checks that the run and its own cursor are still where
the chunk started, upserts the page and advances the cursor. A worker killed in between
simply redoes the chunk; a duplicate task finds the cursor moved and skips. Upserts are
idempotent, so nothing is ever duplicated.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime, timedelta
from itertools import islice

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from crmapp.hooks import facts_writer
from crmapp.models import Deal, ImportLane, Lead, Portal
from crmapp.tiers import WINDOW_MONTHS, portal_tier, window_grows, window_start
from integrations import mirror
from integrations.registry import adapter_for

log = logging.getLogger(__name__)

CHUNK = 5000
TASK_SECONDS = 60
DERIVE_CHUNK = 2000
DIRECTORY, SOURCES, FACTS, DONE = "directory", "sources", "facts", "done"
FINISHED = -1  # a source cursor that has reached the end
# During an import the derived fields wait for the last step, when all history is in.
UPSERT = {
    "lead": lambda portal, records: mirror.mirror_leads_upsert(portal, records, derive=False),
    "deal": lambda portal, records: mirror.mirror_deals_upsert(portal, records, derive=False),
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
# Every lead and deal is visited once more at the end to derive its last touch.
DERIVED = {
    "deal": (Deal, mirror.deals_derived_refresh),
    "lead": (Lead, mirror.leads_derived_refresh),
}
DERIVE, COUNT, COUNTED = ImportLane.Step.DERIVE, ImportLane.Step.FACTS, ImportLane.Step.DONE


def lane_part(entity_type: str) -> str:
    """The task part that runs an entity type's lane."""
    return f"{FACTS}:{entity_type}"


def portal_import_begin(portal: Portal, *, now: datetime) -> str:
    """Start a new import run (superseding any unfinished one); returns the run id."""
    run = uuid.uuid4().hex
    with transaction.atomic():
        portal = Portal.objects.select_for_update().get(pk=portal.pk)
        # The aggregates are recounted at the end; until then events leave them alone.
        facts_writer().facts_clear(portal)
        portal.import_phase = Portal.ImportPhase.RUNNING
        portal.import_step = DIRECTORY
        portal.import_done = portal.import_total = 0
        portal.import_started_at = portal.import_beat_at = now
        portal.import_finished_at = None
        portal.import_error = ""
        # The mirror will hold the tier's months (and, until the next purge, any older ones).
        months = WINDOW_MONTHS[portal_tier(portal, now=now)]
        portal.history_months = max(portal.history_months, months)
        portal.import_cursor = {
            "run": run,
            "since": window_start(portal, now=now).isoformat(),
            "phase": DIRECTORY,
            "sources": {},
        }
        portal.save()
        # Waits for a lane chunk of an earlier run still in flight, so nothing of it is left.
        ImportLane.objects.for_portal(portal).delete()
    return run


def portal_history_backfill_begin(portal: Portal, *, now: datetime) -> str | None:
    """After an upgrade, import again from the longer window's start (with the progress bar);
    returns the run id, or None when the mirror already holds the window or is importing."""
    with transaction.atomic():
        portal = Portal.objects.select_for_update().get(pk=portal.pk)
        if not window_grows(portal, now=now):
            return None
        log.info("backfilling %s to %s", portal, window_start(portal, now=now).date())
        return portal_import_begin(portal, now=now)


def portal_import_chunk(portal: Portal, *, run: str, part: str = DIRECTORY) -> list[str]:
    """Do the next piece of `part` (the directory, a source's name, or a lane_part).

    Returns the parts that should run next (each as its own task): the same part while it has
    more, every source after the directory, every lane after the last source, nothing at the end.
    """
    cursor = portal.import_cursor
    if cursor.get("run") != run or portal.import_phase != Portal.ImportPhase.RUNNING:
        return []
    if part == DIRECTORY:
        return _import_directory(portal, run) if cursor["phase"] == DIRECTORY else []
    if part.startswith(f"{FACTS}:"):
        return _lane(portal, run, part.split(":", 1)[1]) if cursor["phase"] == FACTS else []
    return _import_source(portal, run, part)


def _import_source(portal: Portal, run: str, part: str) -> list[str]:
    """Stream one source page by page, committing every CHUNK records with its cursor, for
    up to TASK_SECONDS (then the chain continues in a new task)."""
    source = _sources(portal)[part]
    after_id = portal.import_cursor["sources"].get(part, FINISHED)
    if after_id == FINISHED:
        return []
    started = time.monotonic()
    stream = source.stream(after_id)
    while True:
        records = list(islice(stream, CHUNK))
        finished = len(records) < CHUNK
        position = FINISHED if finished else max(int(r.crm_id) for r in records)
        with transaction.atomic():
            UPSERT[source.entity_type](portal, records)
            # Checked after the upsert, so parallel chains only queue for the cursor update.
            if not _lock_if_unmoved(portal, run, ("sources", part), after_id):
                transaction.set_rollback(True)
                return []
            portal.import_cursor["sources"][part] = position
            following = _after_sources(portal) if finished else [part]
            _save_progress(portal, added=len(records), step=source.name)
        if finished or time.monotonic() - started > TASK_SECONDS:
            return following
        after_id = position


def _after_sources(portal: Portal) -> list[str]:
    """Once every source is through, the lanes (call where the cursor is locked)."""
    if not all(after == FINISHED for after in portal.import_cursor["sources"].values()):
        return []
    mirror.mirror_statistics_refresh()
    portal.import_cursor["phase"] = FACTS
    types = facts_writer().ENTITY_TYPES
    ImportLane.objects.bulk_create(
        ImportLane(portal=portal, run=portal.import_cursor["run"], entity_type=entity_type,
                   step=DERIVE if entity_type in DERIVED else COUNT)
        for entity_type in types
    )  # fmt: skip
    return [lane_part(entity_type) for entity_type in types]


def _sources(portal: Portal, adapter=None) -> dict:
    since = datetime.fromisoformat(portal.import_cursor["since"])
    adapter = adapter or adapter_for(portal)
    return {source.name: source for source in adapter.history_sources(since)}


def _import_directory(portal: Portal, run: str) -> list[str]:
    adapter = adapter_for(portal)
    sources = _sources(portal, adapter)
    directory = adapter.directory()
    estimates = adapter.estimates(list(sources.values()))
    # Every listed entity once, leads and deals again (derive), then leads, deals and
    # activities once more (aggregates).
    revisits = {"lead": 2, "deal": 2, "activity": 1}
    total = sum(
        n * (1 + revisits.get(sources[name].entity_type, 0)) for name, n in estimates.items()
    )
    with transaction.atomic():
        if not _lock_if_unmoved(portal, run, ("phase",), DIRECTORY):
            return []
        mirror.mirror_directory_apply(portal, directory)
        portal.import_cursor["phase"] = SOURCES
        # A source that is empty now needs no listing: what appears later arrives as events.
        portal.import_cursor["sources"] = {
            name: 0 if estimates[name] else FINISHED for name in sources
        }
        following = [name for name, after in portal.import_cursor["sources"].items() if after == 0]
        following = following or _after_sources(portal)
        portal.import_total = total
        _save_progress(portal, step=next(iter(sources)))
    return following


def _lane(portal: Portal, run: str, entity_type: str) -> list[str]:
    """Move an entity type's lane on chunk by chunk for up to TASK_SECONDS, each chunk in one
    transaction with the lane row locked (never the portal row: a mirror write holds that
    while it waits for the lanes). A second task on the same lane finds it moved and stops."""
    started, left_at = time.monotonic(), None
    while True:
        with transaction.atomic():
            lane = (
                ImportLane.objects.for_portal(portal)
                .select_for_update()
                .filter(run=run, entity_type=entity_type)
                .first()
            )
            if lane is None or (left_at is not None and (lane.step, lane.after_id) != left_at):
                return []
            if lane.step == COUNTED:
                break
            step, added = lane.step, _lane_chunk(portal, lane)
            lane.save(update_fields=["step", "after_id"])
            left_at = (lane.step, lane.after_id)
        _progress(portal, added=added, step=f"{step}_{entity_type}")
        if lane.step == COUNTED:
            break
        if time.monotonic() - started > TASK_SECONDS:
            return [lane_part(entity_type)]
    return _finish(portal, run)


def _lane_chunk(portal: Portal, lane: ImportLane) -> int:
    """One chunk of the lane's step; moves the lane on (unsaved), returns entities visited."""
    if lane.step == DERIVE:
        model, refresh = DERIVED[lane.entity_type]
        ids = list(
            model.objects.for_portal(portal)
            .filter(crm_id__gt=lane.after_id)
            .order_by("crm_id")
            .values_list("crm_id", flat=True)[:DERIVE_CHUNK]
        )
        refresh(portal, ids)
        lane.step, lane.after_id = (COUNT, 0) if len(ids) < DERIVE_CHUNK else (DERIVE, ids[-1])
        return len(ids)
    counted, last_id = facts_writer().facts_rebuild_chunk(portal, lane.entity_type, lane.after_id)
    lane.step, lane.after_id = (COUNTED, lane.after_id) if last_id is None else (COUNT, last_id)
    return counted


def _progress(portal: Portal, *, added: int, step: str) -> None:
    """Count a lane's chunk in the progress bar, after its commit (lanes hold no portal lock)."""
    Portal.objects.filter(pk=portal.pk).update(
        import_done=F("import_done") + added,
        import_total=Greatest("import_total", F("import_done") + added),
        import_step=step,
        import_beat_at=timezone.now(),
    )


def _finish(portal: Portal, run: str) -> list[str]:
    """Done once every lane is through (the last lane to get here finds them all so)."""
    with transaction.atomic():
        if not _lock_if_unmoved(portal, run, ("phase",), FACTS):
            return []
        lanes = ImportLane.objects.for_portal(portal).filter(run=run)
        if lanes.exclude(step=COUNTED).exists():
            return []
        lanes.delete()
        now = timezone.now()
        portal.import_cursor["phase"] = DONE
        Portal.objects.filter(pk=portal.pk).update(
            import_cursor=portal.import_cursor,
            import_phase=Portal.ImportPhase.DONE,
            import_step=DONE,
            import_done=portal.import_total,
            import_finished_at=now,
            import_beat_at=now,
            data_as_of=now,
        )
    log.info("import of %s finished: %d entities", portal, portal.import_total)
    return []


def _lock_if_unmoved(portal: Portal, run: str, path: tuple[str, ...], expected) -> bool:
    """Lock the portal row; true if the run is current and the cursor at `path` still holds
    `expected` (where this chunk started). Refreshes the in-memory cursor and counters from
    the row. Call inside atomic."""
    fresh = Portal.objects.select_for_update().get(pk=portal.pk)
    portal.import_cursor = fresh.import_cursor
    portal.import_done, portal.import_total = fresh.import_done, fresh.import_total
    value = fresh.import_cursor
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    running = fresh.import_phase == Portal.ImportPhase.RUNNING
    return running and fresh.import_cursor.get("run") == run and value == expected


def _save_progress(portal: Portal, *, step: str, added: int = 0) -> None:
    portal.import_done += added
    portal.import_total = max(portal.import_total, portal.import_done)
    Portal.objects.filter(pk=portal.pk).update(
        import_cursor=portal.import_cursor,
        import_step=step,
        import_done=portal.import_done,
        import_total=portal.import_total,
        import_beat_at=timezone.now(),
    )


def portal_import_unfinished_parts(portal: Portal) -> list[str]:
    """What a resumed run must restart: the phase's chains that have not reached the end."""
    cursor = portal.import_cursor
    if cursor.get("phase") == SOURCES:
        return [name for name, after in cursor["sources"].items() if after != FINISHED]
    if cursor.get("phase") == FACTS:
        lanes = ImportLane.objects.for_portal(portal).filter(run=cursor["run"])
        running = [
            lane_part(t) for t in lanes.exclude(step=COUNTED).values_list("entity_type", flat=True)
        ]
        # All through but not finished (killed in between): any lane finishes the import.
        return running or [lane_part(facts_writer().ENTITY_TYPES[0])]
    return [cursor.get("phase", DIRECTORY)]


def portals_import_stalled(*, now: datetime, after: timedelta) -> list[Portal]:
    """Running imports that made no progress for `after` (their next chunk was lost)."""
    return list(
        Portal.objects.filter(
            import_phase=Portal.ImportPhase.RUNNING, import_beat_at__lt=now - after
        )
    )


def portal_import_fail(portal: Portal, *, run: str, reason: str) -> None:
    with transaction.atomic():
        fresh = Portal.objects.select_for_update().get(pk=portal.pk)
        if fresh.import_cursor.get("run") == run:
            Portal.objects.filter(pk=portal.pk).update(
                import_phase=Portal.ImportPhase.FAILED, import_error=reason
            )
    log.error("import of %s failed: %s", portal, reason)
