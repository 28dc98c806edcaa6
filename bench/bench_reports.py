"""Report pages (efficiency, forgotten, plan, quality, dynamics,
marketing, and the overview that reads several of them) on a large portal: p95 time to
render each page for a month and for a year (target < 300 ms), with the ratio to computing the
same numbers straight from the mirror tables in the same run, printed first as one table. The
blocks the plan, dynamics and marketing pages load on their own (scrolled to, or a line opened) are
timed as rows of their own.
`BENCH_REPORTS=dynamics` times only the named pages (comma-separated).

The portal (1M deals, 5M activities, 300k leads, 200 employees, 24 months) is generated on
PostgreSQL with SQL (generate_series), and its aggregates are built by the product's own
rebuild; both are kept in a database of their own between runs. The measuring runs in a
child process whose DATABASE_URL points at that database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from django.conf import settings

from bench.result import Result
from bench.services import services_reachable

DATABASE = "crmreports_bench_reports"


def run() -> list[Result]:
    if not services_reachable():
        return [Result("report pages on 1M deals", 0.0, "p95 < 300 ms", None,
                       {"skipped": "needs PostgreSQL on 127.0.0.1:5432"})]  # fmt: skip
    env = os.environ | {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        "REDIS_URL": "redis://127.0.0.1:6379/12",
        "SECRET_KEY": "bench",
        "FIELD_ENCRYPTION_KEY": settings.FIELD_ENCRYPTION_KEYS[0],
        "VAR_DIR": str(settings.VAR_DIR / "reports"),
    }
    listed = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc", "SELECT datname FROM pg_database"],
        check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    if DATABASE not in listed:
        subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", DATABASE], check=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], env=env,
                   check=True)  # fmt: skip
    # Its progress (stderr) goes straight through: a measuring run takes many minutes.
    child = subprocess.run(
        [sys.executable, "-m", "bench.reports_measure"],
        env=env, check=True, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    measured = json.loads(child.stdout.strip().splitlines()[-1])
    print(pages_table(measured["pages"]), flush=True)
    results = []
    for page, timings in measured["pages"].items():
        p95, direct = timings["p95"], timings["direct_p95"]
        results.append(
            Result(
                name=f"report page {page} ({measured['portal']})",
                ratio=p95 / direct,
                target="p95 < 300 ms, < 300 KB",
                met=p95 < 0.3 and timings["kb"] < 300,
                figures={
                    "p50": f"{timings['p50'] * 1000:.0f} ms",
                    "p95": f"{p95 * 1000:.0f} ms",
                    "same numbers from the mirror, p95": f"{direct * 1000:.0f} ms",
                    "size": f"{timings['kb']:.0f} KB",
                },
            )
        )
    return results


def pages_table(pages: dict) -> str:
    """Every page (and plan block) for a month and a year beside its mirror baseline."""
    lines = ["| page | p50 | p95 | mirror p95 | size | target p95 < 300 ms, < 300 KB |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for page, timings in pages.items():
        p50, p95, direct, kb = (timings[k] for k in ("p50", "p95", "direct_p95", "kb"))
        verdict = "met" if p95 < 0.3 and kb < 300 else "MISSED"
        lines.append(f"| {page} | {p50 * 1000:.0f} ms | {p95 * 1000:.0f} ms "
                     f"| {direct * 1000:.0f} ms | {kb:.0f} KB | {verdict} |")  # fmt: skip
    return "\n".join(lines)
