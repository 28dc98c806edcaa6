"""History import: chunked, resumable, parallel per source, with progress (CRM-agnostic).

After the directory (employees, pipelines, stages), every history source (leads, deals,
activities, stage history …) is walked by its own chain of chunk tasks, so the CRM's rate
limit, not our database, bounds the speed; when all are through, the derived fields (last
touch, win time, next step) are computed in one more chain.

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
from django.utils import timezone

from crmapp.hooks import facts_writer
from crmapp.models import Deal, Lead, Portal
from crmapp.tiers import WINDOW_MONTHS, portal_tier, window_grows, window_start
from integrations import mirror
from integrations.registry import adapter_for

log = logging.getLogger(__name__)

CHUNK = 5000
TASK_SECONDS = 60
DERIVE_CHUNK = 2000
DIRECTORY, SOURCES, DERIVE, FACTS, DONE = "directory", "sources", "derive", "facts", "done"
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
DERIVE_STEPS = [
    ("derive_deals", Deal, mirror.deals_derived_refresh),
    ("derive_leads", Lead, mirror.leads_derived_refresh),
]


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
            "derive": [0, 0],
            "facts": None,
        }
        portal.save()
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
    """Do the next piece of `part` (the directory, a source's name, or "derive").

    Returns the parts that should run next (each as its own task): the same part while it has
    more, every source after the directory, "derive" after the last source, nothing at the end.
    """
    cursor = portal.import_cursor
    if cursor.get("run") != run or portal.import_phase != Portal.ImportPhase.RUNNING:
        return []
    if part == DIRECTORY:
        return _import_directory(portal, run) if cursor["phase"] == DIRECTORY else []
    if part == DERIVE:
        return _derive(portal, run) if cursor["phase"] == DERIVE else []
    if part == FACTS:
        return _count_facts(portal, run) if cursor["phase"] == FACTS else []
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
    """Once every source is through, the derive phase (call where the cursor is locked)."""
    if all(after == FINISHED for after in portal.import_cursor["sources"].values()):
        portal.import_cursor["phase"] = DERIVE
        return [DERIVE]
    return []


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


def _derive(portal: Portal, run: str) -> list[str]:
    step, after_id = portal.import_cursor["derive"]
    if (step, after_id) == (0, 0):
        mirror.mirror_statistics_refresh()
    if step >= len(DERIVE_STEPS):
        with transaction.atomic():
            if not _lock_if_unmoved(portal, run, ("phase",), DERIVE):
                return []
            portal.import_cursor["phase"] = FACTS
            portal.import_cursor["facts"] = [0, 0]
            _save_progress(portal, step=FACTS)
        return [FACTS]
    name, model, refresh = DERIVE_STEPS[step]
    ids = list(
        model.objects.for_portal(portal)
        .filter(crm_id__gt=after_id)
        .order_by("crm_id")
        .values_list("crm_id", flat=True)[:DERIVE_CHUNK]
    )
    with transaction.atomic():
        if not _lock_if_unmoved(portal, run, ("derive",), [step, after_id]):
            return []
        refresh(portal, ids)
        position = [step + 1, 0] if len(ids) < DERIVE_CHUNK else [step, ids[-1]]
        portal.import_cursor["derive"] = position
        _save_progress(portal, added=len(ids), step=name)
    return [DERIVE]


def _count_facts(portal: Portal, run: str) -> list[str]:
    """Count the mirror into the aggregates, type by type in id order, for up to
    TASK_SECONDS. Events meanwhile keep counted entities in step (facts_tracking)."""
    started = time.monotonic()
    writer = facts_writer()
    while True:
        position = portal.import_cursor["facts"]
        index, after_id = position
        if index >= len(writer.ENTITY_TYPES):
            return _finish(portal, run)
        with transaction.atomic():
            if not _lock_if_unmoved(portal, run, ("facts",), position):
                return []
            entity_type = writer.ENTITY_TYPES[index]
            counted, last_id = writer.facts_rebuild_chunk(portal, entity_type, after_id)
            portal.import_cursor["facts"] = [index + 1, 0] if last_id is None else [index, last_id]
            _save_progress(portal, added=counted, step=f"facts_{entity_type}")
        if time.monotonic() - started > TASK_SECONDS:
            return [FACTS]


def _finish(portal: Portal, run: str) -> list[str]:
    with transaction.atomic():
        if not _lock_if_unmoved(portal, run, ("phase",), FACTS):
            return []
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
