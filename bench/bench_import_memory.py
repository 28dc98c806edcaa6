"""Worker memory importing the deals of a 1M-deal portal (target < 300 MB), against the
same worker importing a 10k-deal portal: memory must not grow with the portal."""

from __future__ import annotations

import os
import time

from django.utils import timezone

from bench.bench_import import empty_portal, import_sandbox, import_wait
from bench.result import Result
from bench.workers import worker_peak_rss_mb, worker_start, worker_stop
from crmapp.models import Deal, Portal
from integrations.importer import FINISHED, portal_import_begin, portal_import_chunk
from integrations.tasks import portal_import

LARGE_SCALE = os.environ.get("BENCH_IMPORT_LARGE_SCALE", "large")


def run() -> list[Result]:
    return [_memory()]


def _deals_only_peak(scale: str) -> tuple[float, int, float]:
    """Peak worker memory importing only the deals (and deriving them) of a portal."""
    sandbox, env = import_sandbox(scale, (100_000, 100_000))
    worker = worker_start(env, pool="solo", concurrency=1)
    try:
        portal = empty_portal(sandbox)
        run = portal_import_begin(portal, now=timezone.now())
        sources = portal_import_chunk(Portal.objects.get(pk=portal.pk), run=run)
        portal.refresh_from_db()
        cursor = portal.import_cursor
        cursor["sources"] = {
            name: (0 if name in ("deals", "open_deals") else FINISHED) for name in sources
        }
        Portal.objects.filter(pk=portal.pk).update(import_cursor=cursor)
        started = time.monotonic()
        for part in ("deals", "open_deals"):
            portal_import.delay(portal.pk, run, part)
        portal = import_wait(portal, timeout=7200)
        seconds = time.monotonic() - started
        peak = worker_peak_rss_mb(worker)
    finally:
        worker_stop(worker)
        sandbox.stop()
    return peak, Deal.objects.for_portal(portal).count(), seconds


def _memory() -> Result:
    small_peak, small_deals, _ = _deals_only_peak("medium")
    large_peak, large_deals, seconds = _deals_only_peak(LARGE_SCALE)
    return Result(
        name=f"worker peak memory importing {large_deals} deals",
        ratio=large_peak / small_peak,
        target="< 300 MB",
        met=large_peak < 300,
        figures={
            "peak": f"{large_peak:.0f} MB",
            f"baseline ({small_deals} deals)": f"{small_peak:.0f} MB",
            "time": f"{seconds:.0f} s ({large_deals / seconds:.0f} deals/s)",
        },
    )
