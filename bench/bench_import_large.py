"""The whole large sandbox portal (1M deals, 1M leads, 5M activities) imported into PostgreSQL
by two real workers under Bitrix24's real 50/2 limit, from install to every report true.

Prints the wall time, entities/s and its ratio to the 5,000/s the limit allows (target ≥ 0.8,
the math of bench_import), when each phase was reached, when this month's efficiency is true,
and the workers' peak memory (target < 300 MB; its ratio is to that target).
`BENCH_IMPORT_LARGE_SCALE=medium` imports the medium portal instead.

The sandbox is generated once into VAR_DIR/sandbox (shared with bench_import_memory) and
kept for the day it is anchored to; the first run of a day pays for the generation and says
so. The database is created afresh for every run (emptying 10M rows would take longer), and
the import runs in a child process whose DATABASE_URL points at it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from django.conf import settings

from bench.bench_import import LIMIT, limit_seconds
from bench.result import Result
from bench.services import services_reachable

DATABASE = "crmreports_bench_import_large"
SCALE = os.environ.get("BENCH_IMPORT_LARGE_SCALE", "large")
MEMORY_TARGET_MB = 300


def run() -> list[Result]:
    if not services_reachable():
        return [Result(f"history import of the {SCALE} portal", 0.0, ">= 0.80", None,
                       {"skipped": "needs PostgreSQL and Redis on loopback"})]  # fmt: skip
    env = os.environ | {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        "REDIS_URL": "redis://127.0.0.1:6379/11",
        "CELERY_QUEUE": "bench-import-large",
        "SECRET_KEY": "bench",
        "FIELD_ENCRYPTION_KEY": settings.FIELD_ENCRYPTION_KEYS[0],
        "BENCH_IMPORT_LARGE_SCALE": SCALE,
    }
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-q",
         "-c", f"DROP DATABASE IF EXISTS {DATABASE}", "-c", f"CREATE DATABASE {DATABASE}"],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], env=env,
                   check=True)  # fmt: skip
    child = subprocess.run(
        [sys.executable, "-m", "bench.import_large_measure"],
        env=env, check=True, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    measured = json.loads(child.stdout.strip().splitlines()[-1])
    return [_speed(measured), _memory(measured)]


def _speed(measured: dict) -> Result:
    rows, seconds, reached = measured["rows"], measured["seconds"], measured["reached"]
    total = sum(rows.values())
    done = measured["phase"] == "done"
    ratio = total / seconds / LIMIT if done else 0.0
    sandbox = (
        f"generated in {measured['sandbox_seconds']:.0f} s (the cold run's extra cost)"
        if measured["generated"]
        else f"cached, up in {measured['sandbox_seconds']:.0f} s"
    )
    figures = {
        "entities": f"{total} ({', '.join(f'{n} {name}' for name, n in rows.items())})",
        "ours": f"{seconds:.0f} s = {total / seconds:.0f}/s" if done else measured["error"],
        "all fetched after": f"{reached['fetched']:.0f} s = {total / reached['fetched']:.0f}/s"
        if "fetched" in reached
        else "-",
        "limit": f"{LIMIT:.0f}/s",
        "with burst": f"{limit_seconds(rows) / seconds:.2f}" if done else "-",
        "phases": _phases(reached),
        # The efficiency report reads leads, deals and activities: it is true only once every
        # lane has counted, that is at done.
        "this month's efficiency true after": f"{reached.get('done', 0):.0f} s (at done)",
        "sandbox": sandbox,
    }
    return Result(
        name=f"history import of the {measured['scale']} portal, 2 workers, vs the limit (50/2)",
        ratio=ratio,
        target=">= 0.80",
        met=done and ratio >= 0.8,
        figures=figures,
    )


def _phases(reached: dict[str, float]) -> str:
    """Seconds in the directory and in the sources, then when each lane's step ended, counted
    from the moment everything was fetched (the lanes run side by side)."""
    sources, fetched = reached.get("sources", 0.0), reached.get("fetched")
    if fetched is None:
        return f"directory {sources:.0f} s"
    lanes = [f"{name} +{at - fetched:.0f} s" for name, at in reached.items()
             if name not in ("sources", "fetched")]  # fmt: skip
    return f"directory {sources:.0f} s, sources {fetched - sources:.0f} s; then " + ", ".join(lanes)


def _memory(measured: dict) -> Result:
    peak = max(measured["peaks_mb"])
    return Result(
        name=f"worker peak memory importing the {measured['scale']} portal",
        ratio=peak / MEMORY_TARGET_MB,
        target=f"< {MEMORY_TARGET_MB} MB",
        met=peak < MEMORY_TARGET_MB,
        figures={"peaks": " and ".join(f"{mb:.0f} MB" for mb in measured["peaks_mb"])},
    )
