"""Child process of bench_import_large: import the sandbox portal into this process's database
through two real workers, noting when each phase is reached. Progress goes to stderr; the
figures are one JSON line on stdout."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crmapp.settings")
import django

django.setup()

from django.utils import timezone  # noqa: E402

from bench.bench_import import BUCKET, DRAIN, empty_portal, import_sandbox, mirror_rows  # noqa: E402
from bench.workers import (  # noqa: E402
    worker_peak_rss_mb,
    worker_start,
    worker_stop,
    workers_ready,
)
from crmapp.hooks import facts_writer  # noqa: E402
from crmapp.models import ImportLane, Portal  # noqa: E402
from integrations.importer import (  # noqa: E402
    DERIVED,
    DONE,
    FACTS,
    SOURCES,
    portal_import_begin,
)
from integrations.tasks import portal_import  # noqa: E402

SCALE = os.environ.get("BENCH_IMPORT_LARGE_SCALE", "large")
WORKERS = 2
TIMEOUT = 8 * 3600
ENTITY_TYPES = facts_writer().ENTITY_TYPES


def log(message: str) -> None:
    print(f"   ({message})", file=sys.stderr, flush=True)


def milestones(portal: Portal) -> list[str]:
    """What the import has reached: every source in ("fetched"), then each lane's derived
    fields (a lane without them starts counting at once) and aggregates, then done."""
    phase = portal.import_cursor.get("phase", "")
    if portal.import_phase == Portal.ImportPhase.DONE:
        lanes = [(t, ImportLane.Step.DONE) for t in ENTITY_TYPES]
        return [SOURCES, "fetched", *_lanes_reached(lanes), DONE]
    if phase != FACTS:
        return [SOURCES] if phase == SOURCES else []
    lanes = ImportLane.objects.for_portal(portal).values_list("entity_type", "step")
    return [SOURCES, "fetched", *_lanes_reached(lanes)]


def _lanes_reached(lanes) -> list[str]:
    reached = []
    for entity_type, step in lanes:
        if entity_type in DERIVED and step != ImportLane.Step.DERIVE:
            reached.append(f"{entity_type} derived")
        if step == ImportLane.Step.DONE:
            reached.append(f"{entity_type} counted")
    return reached


def import_watched(portal: Portal) -> dict[str, float]:
    """Start the import and poll it to the end; seconds from the start to each milestone
    (one passed between two polls is dated by the later poll)."""
    started = time.monotonic()
    run = portal_import_begin(portal, now=timezone.now())
    portal_import.delay(portal.pk, run)
    reached: dict[str, float] = {}
    while portal.import_phase not in (Portal.ImportPhase.DONE, Portal.ImportPhase.FAILED):
        time.sleep(0.5)
        portal.refresh_from_db()
        elapsed = time.monotonic() - started
        if elapsed > TIMEOUT:
            raise TimeoutError(f"import of {portal} did not finish in {TIMEOUT} s")
        for name in milestones(portal):
            if name not in reached:
                reached[name] = elapsed
                log(f"{name} at {elapsed:.0f} s, {portal.import_done} counted")
    return reached


def measure() -> dict:
    started, wall = time.monotonic(), time.time()
    sandbox, env = import_sandbox(SCALE, (BUCKET, DRAIN))
    sandbox_seconds = time.monotonic() - started
    generated = sandbox.server.base_path.stat().st_mtime >= wall
    log(f"sandbox {'generated' if generated else 'cached'}, up in {sandbox_seconds:.0f} s")
    names = [f"import-large-{i}" for i in range(WORKERS)]
    workers = [worker_start(env, name=name) for name in names]
    try:
        workers_ready(names)
        portal = empty_portal(sandbox)
        reached = import_watched(portal)
        peaks = [worker_peak_rss_mb(worker) for worker in workers]
    finally:
        for worker in workers:
            worker_stop(worker)
        sandbox.stop()
    portal.refresh_from_db()
    return {
        "scale": SCALE,
        "phase": portal.import_phase,
        "error": portal.import_error,
        "seconds": (portal.import_finished_at - portal.import_started_at).total_seconds()
        if portal.import_finished_at
        else None,
        "reached": reached,
        "rows": mirror_rows(portal),
        "peaks_mb": peaks,
        "sandbox_seconds": sandbox_seconds,
        "generated": generated,
    }


if __name__ == "__main__":
    with contextlib.redirect_stdout(sys.stderr):
        figures = measure()
    print(json.dumps(figures))
