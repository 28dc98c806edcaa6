"""Webhook ingest on gunicorn + PostgreSQL: Bitrix24 events accepted per second (verified,
stored encrypted with an idempotency key, enqueued on commit), as a ratio to an empty Django
view served by the same gunicorn in the same run (target ≥ 0.5).

Needs PostgreSQL and Redis on loopback (as on CI); reports "skipped" otherwise.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import requests
from django.conf import settings

from bench.result import Result
from bench.services import http_wait, services_reachable

DATABASE_URL = "postgres://postgres@127.0.0.1:5432/crmreports_bench_ingest"
REDIS_URL = "redis://127.0.0.1:6379/12"
PORT = 8765
REQUESTS, CONCURRENCY = 3000, 16
MEMBER = "b" * 32
APP_TOKEN = "c" * 32


def run() -> list[Result]:
    if not services_reachable():
        return [Result("webhook ingest", 0, ">= 0.5", None, {"skipped": "no PostgreSQL/Redis"})]
    queue = f"bench-ingest-{uuid.uuid4().hex[:8]}"
    env = os.environ | {
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": "bench",
        "FIELD_ENCRYPTION_KEY": settings.FIELD_ENCRYPTION_KEYS[0],
        "CELERY_QUEUE": queue,
        "VAR_DIR": str(Path(settings.VAR_DIR) / "ingest"),
    }
    _prepare_database(env)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "bench.ingest_wsgi", "--bind", f"127.0.0.1:{PORT}",
         "--workers", "4", "--log-level", "warning"],
        env=env,
    )  # fmt: skip
    try:
        http_wait(f"http://127.0.0.1:{PORT}/healthz")
        empty = _rate(lambda i: ("/bench/empty/", "x=1"))
        ingest = _rate(_event)
    finally:
        server.terminate()
        server.wait(timeout=30)
        _drop_queue(queue)
    ratio = ingest / empty
    return [
        Result(
            name="webhook ingest vs an empty view (gunicorn, 4 workers, PostgreSQL)",
            ratio=ratio,
            target=">= 0.5",
            met=ratio >= 0.5,
            figures={
                "ingest": f"{ingest:.0f} req/s",
                "empty view": f"{empty:.0f} req/s",
                "requests": f"{REQUESTS} × 2, {CONCURRENCY} at once",
            },
        )
    ]


def _event(i: int) -> tuple[str, str]:
    body = urlencode({
        "event": "ONCRMDEALUPDATE", "event_handler_id": "7", "data[FIELDS][ID]": str(i),
        "ts": str(1_700_000_000 + i), "auth[domain]": "bench.bitrix24.ru",
        "auth[member_id]": MEMBER, "auth[application_token]": APP_TOKEN,
    })  # fmt: skip
    return "/bitrix24/events/", body


def _rate(request_for) -> float:
    sessions = threading.local()

    def send(i: int) -> None:
        if not hasattr(sessions, "session"):
            sessions.session = requests.Session()
        session = sessions.session
        path, body = request_for(i)
        response = session.post(
            f"http://127.0.0.1:{PORT}{path}",
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=30,
        )
        response.raise_for_status()

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(send, range(200)))  # warm-up
        started = time.perf_counter()
        list(pool.map(send, range(1000, 1000 + REQUESTS)))
        return REQUESTS / (time.perf_counter() - started)


def _prepare_database(env: dict) -> None:
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c",
         "DROP DATABASE IF EXISTS crmreports_bench_ingest", "-c",
         "CREATE DATABASE crmreports_bench_ingest"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, check=True)
    create = (
        "from crmapp.models import Portal; Portal.objects.create(kind='bitrix24', "
        f"key='bench.bitrix24.ru', domain='bench.bitrix24.ru', member_id='{MEMBER}', "
        f"application_token='{APP_TOKEN}')"
    )
    subprocess.run([*manage, "shell", "-c", create], env=env, check=True)


def _drop_queue(queue: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.delete(queue)
