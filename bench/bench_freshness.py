"""Freshness: from a change in the CRM to the aggregates reflecting it, through the real path —
the sandbox delivers the event to gunicorn, the inbox stores it, a real worker re-reads the
deal and writes the mirror and the aggregates (target p95 < 2 s). Baseline: the sandbox's own
round trip for the same change (the control call), measured in the same run.

Uses PostgreSQL and Redis on loopback when they answer (as on CI), else the embedded default.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import subprocess
import sys
import time
from urllib.parse import urlencode

import psycopg
import requests
from django.conf import settings

from bench.result import Result, percentile
from bench.services import http_wait, services_reachable
from bench.workers import worker_start, worker_stop
from crmapp.env import database_from_url
from integrations.sandbox import start_sandbox

PORT = 8766
CHANGES = 40


def run() -> list[Result]:
    services = services_reachable()
    env = _environment(services)
    sandbox = start_sandbox(seed=4, scale="small", rate_limit=(50, 2))
    info = sandbox.info
    env |= {
        "BITRIX24_CLIENT_ID": info["client_id"],
        "BITRIX24_CLIENT_SECRET": info["client_secret"],
        "BITRIX24_OAUTH_URL": info["oauth_url"],
        "REQUESTS_CA_BUNDLE": info["ca_bundle"],
        "PUBLIC_URL": f"http://127.0.0.1:{PORT}",
    }
    _migrate(env, services)
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "crmapp.wsgi", "--bind", f"127.0.0.1:{PORT}",
         "--workers", "2", "--threads", "4", "--log-level", "warning"],
        env=os.environ | env,
    )  # fmt: skip
    worker = worker_start(env)
    try:
        http_wait(f"http://127.0.0.1:{PORT}/healthz")
        _install(info)
        sandbox.control.install_finish()
        read = _reader(env)
        _wait_imported(read)
        baseline, latencies = [], []
        for i in range(CHANGES):
            amount = 700000 + i
            expected = _created_sum(read) + 100 * amount - _deal_cents(read, 10 + i)
            started = time.perf_counter()
            sandbox.control.update("deals", 10 + i, {"OPPORTUNITY": f"{amount}.00"})
            baseline.append(time.perf_counter() - started)
            _wait_created_sum(read, expected)
            latencies.append(time.perf_counter() - started)
    finally:
        worker_stop(worker)
        web.terminate()
        web.wait(timeout=30)
        sandbox.stop()
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    stack = "PostgreSQL + Redis" if services else "embedded"
    return [
        Result(
            name=f"freshness, CRM change to aggregates ({stack})",
            ratio=p95 / statistics.median(baseline),
            target="p95 < 2 s",
            met=p95 < 2,
            figures={
                "p50": f"{p50 * 1000:.0f} ms",
                "p95": f"{p95 * 1000:.0f} ms",
                "sandbox round trip": f"{statistics.median(baseline) * 1000:.0f} ms",
                "changes": str(CHANGES),
            },
        )
    ]


def _environment(services: bool) -> dict:
    env = {
        "VAR_DIR": str(settings.VAR_DIR / "freshness"),
        "SECRET_KEY": "bench",
        "FIELD_ENCRYPTION_KEY": settings.FIELD_ENCRYPTION_KEYS[0],
        "CELERY_QUEUE": "bench-freshness",
    }
    if services:
        env |= {
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/crmreports_bench_fresh",
            "REDIS_URL": "redis://127.0.0.1:6379/11",
        }
    else:
        env["DATABASE_URL"] = f"sqlite://{settings.VAR_DIR}/freshness/db.sqlite3"
    return env


def _migrate(env: dict, services: bool) -> None:
    if services:
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c",
             "DROP DATABASE IF EXISTS crmreports_bench_fresh", "-c",
             "CREATE DATABASE crmreports_bench_fresh"],
            check=True, capture_output=True,
        )  # fmt: skip
    else:
        (settings.VAR_DIR / "freshness" / "db.sqlite3").unlink(missing_ok=True)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        env=os.environ | env,
        check=True,
    )


def _install(info: dict) -> None:
    form = dict(info["install"])
    query = {key: form.pop(key) for key in info["control"]["install_query_params"]}
    url = f"http://127.0.0.1:{PORT}/bitrix24/install/?{urlencode(query)}"
    requests.post(url, data=form, timeout=60).raise_for_status()


def _reader(env: dict):
    """`read(sql, param)` → first column of the first row, on the benchmark's own database
    (a plain DB-API connection; this process's Django settings point elsewhere)."""
    config = database_from_url(env["DATABASE_URL"], sqlite_default=settings.VAR_DIR)
    if config["ENGINE"].endswith("sqlite3"):
        connection = sqlite3.connect(config["NAME"], timeout=20, isolation_level=None)
        param_marker = "?"
    else:
        connection = psycopg.connect(
            host=config["HOST"], port=config["PORT"], user=config["USER"],
            dbname=config["NAME"], autocommit=True,
        )  # fmt: skip
        param_marker = "%s"

    def read(sql: str, *params):
        cursor = connection.cursor()
        cursor.execute(sql.replace("%s", param_marker), params)
        row = cursor.fetchone()
        cursor.close()
        return row[0] if row else None

    return read


def _wait_imported(read) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if read("SELECT import_phase FROM crmapp_portal") == "done":
            return
        time.sleep(0.5)
    raise TimeoutError("the import did not finish")


def _created_sum(read) -> int:
    """Σ amount of all deals by creation day: moves with any deal's amount."""
    return int(read("SELECT SUM(amount_cents) FROM reports_dayfact WHERE metric = 'deal_created'"))


def _deal_cents(read, deal_id: int) -> int:
    return round(float(read("SELECT amount FROM crmapp_deal WHERE crm_id = %s", deal_id)) * 100)


def _wait_created_sum(read, expected: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if _created_sum(read) == expected:
            return
        time.sleep(0.01)
    raise TimeoutError(f"the aggregates did not reach {expected}")
