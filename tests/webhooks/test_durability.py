"""Fault tests: a real worker process, and the worker, the broker or the database failing
mid-stream. Afterwards no acknowledged event is lost and the aggregates equal a recount."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from contextlib import contextmanager

import pytest
from django.db import connection
from django.utils import timezone

from crmapp.celery import app as celery_app
from crmapp.models import Deal, Portal
from integrations.importer import DIRECTORY, portal_import_begin, portal_import_chunk
from integrations.mirror import mirror_directory_apply
from integrations.registry import adapter_for
from reports.aggregates import facts_recount, facts_stored, rollup_compare
from tests.conftest import database_url_for_subprocess, wait_until
from tests.sandbox_fixture import sandbox_deal_ids
from tests.webhooks.test_bitrix24_events import APP_TOKEN, event_body, post
from webhooks.models import InboundEvent
from webhooks.tasks import inbox_sweep

# The application_name of the worker whose connections the database-drop test kills.
DROPPED = "durability-test-worker"


@pytest.fixture
def deals(bitrix24) -> list[int]:
    """Forty deals of the default pipeline, whose stages (WON among them) the tests set."""
    return sandbox_deal_ids(bitrix24, "CATEGORY_ID = 0", 40)


@pytest.fixture
def portal(sandbox_portal):
    sandbox_portal.application_token = APP_TOKEN
    sandbox_portal.save()
    mirror_directory_apply(sandbox_portal, adapter_for(sandbox_portal).directory())
    return sandbox_portal


@pytest.fixture
def worker_env(bitrix24):
    info = bitrix24.info
    return {
        "BITRIX24_CLIENT_ID": info["client_id"],
        "BITRIX24_CLIENT_SECRET": info["client_secret"],
        "BITRIX24_OAUTH_URL": info["oauth_url"],
        "REQUESTS_CA_BUNDLE": info["ca_bundle"],
        "INBOX_CLAIM_TIMEOUT_SECONDS": "2",
    }


@pytest.mark.worker
def test_it_loses_no_event_when_the_worker_dies_mid_stream(
    client, bitrix24, portal, deals, celery_workers, worker_env, tasks_to
):
    for deal_id in deals:
        bitrix24.control.update("deals", deal_id, {"OPPORTUNITY": f"{deal_id}100.00"})
    first = celery_workers.start(**worker_env)

    for deal_id in deals:
        body = event_body(portal, "bitrix24_event_ONCRMDEALUPDATE.txt", entity_id=deal_id)
        assert post(client, body).status_code == 200
    # Every acknowledged event is stored before the answer, whatever happens next.
    assert InboundEvent.objects.for_portal(portal).count() == len(deals)

    inbox = InboundEvent.objects.for_portal(portal)
    assert wait_until(lambda: inbox.exclude(status=InboundEvent.Status.PENDING).exists())
    first.send_signal(signal.SIGKILL)
    first.wait()

    celery_workers.start(**worker_env)

    def all_applied() -> bool:
        inbox_sweep.delay()  # what beat does every 30 s
        return not inbox.exclude(status=InboundEvent.Status.DONE).exists()

    assert wait_until(all_applied, timeout=90, interval=1)
    amounts = dict(
        Deal.objects.for_portal(portal).filter(crm_id__in=deals).values_list("crm_id", "amount")
    )
    assert {crm_id: f"{amount:.2f}" for crm_id, amount in amounts.items()} == {
        deal_id: f"{deal_id}100.00" for deal_id in deals
    }


@pytest.fixture
def imported(portal):
    """The portal with its history imported inline (so its aggregates are live)."""
    run, queue = portal_import_begin(portal, now=timezone.now()), [DIRECTORY]
    while queue:
        queue += portal_import_chunk(Portal.objects.get(pk=portal.pk), run=run, part=queue.pop(0))
    return Portal.objects.get(pk=portal.pk)


class RedisServer:
    """A redis-server of the test's own on a free loopback port, without persistence, so a
    restart loses every queued message (the system Redis is not ours to stop)."""

    def __init__(self, tmp_path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url, self.dir, self.process = f"redis://127.0.0.1:{self.port}/0", tmp_path, None

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                   "--save", "", "--appendonly", "no", "--dir", str(self.dir)]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        assert wait_until(self._answers, timeout=10, interval=0.05)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


@contextmanager
def _publishing_to(url: str):
    """Make this process publish its tasks to the broker at `url` (its own connection pool;
    the default one is left open for the tests that follow)."""

    def forget_pools() -> None:
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    previous = celery_app.conf.broker_url
    celery_app.conf.broker_url = url
    forget_pools()
    try:
        yield
    finally:
        celery_app.pool.force_close_all()
        celery_app.conf.broker_url = previous
        forget_pools()


@pytest.fixture
def own_redis(tmp_path, tasks_to):
    if not shutil.which("redis-server"):
        pytest.fail("redis-server is needed for the broker fault test (apt-get install redis)")
    server = RedisServer(tmp_path)
    server.start()
    with _publishing_to(server.url):
        yield server
    server.kill()


def _change_and_post(client, bitrix24, portal, deal_ids, amount: str) -> None:
    for deal_id in deal_ids:
        bitrix24.control.update("deals", deal_id, {"OPPORTUNITY": amount, "STAGE_ID": "WON"})
        body = event_body(portal, "bitrix24_event_ONCRMDEALUPDATE.txt", entity_id=deal_id)
        assert post(client, body).status_code == 200


def _assert_nothing_lost(portal, bitrix24, expected: dict[int, str]) -> None:
    inbox = InboundEvent.objects.for_portal(portal)

    def all_applied() -> bool:
        inbox_sweep.delay()  # what beat does every 30 s
        return not inbox.exclude(status=InboundEvent.Status.DONE).exists()

    assert wait_until(all_applied, timeout=120, interval=1), list(
        inbox.exclude(status=InboundEvent.Status.DONE).values("status", "attempts", "last_error")
    )
    amounts = dict(
        Deal.objects.for_portal(portal).filter(crm_id__in=expected).values_list("crm_id", "amount")
    )
    assert {crm_id: f"{amount:.2f}" for crm_id, amount in amounts.items()} == expected
    assert facts_stored(portal) == facts_recount(portal)
    assert rollup_compare(portal) == []


@pytest.mark.worker
def test_it_loses_no_event_when_redis_restarts(
    client, bitrix24, imported, deals, celery_workers, worker_env, own_redis
):
    celery_workers.start(**worker_env, CELERY_BROKER_URL=own_redis.url)
    first, during, after = deals[:10], deals[10:20], deals[20:30]

    _change_and_post(client, bitrix24, imported, first, "1111.00")
    own_redis.kill()  # queued drain messages die with it
    _change_and_post(client, bitrix24, imported, during, "2222.00")  # broker down: still 200
    own_redis.start()
    _change_and_post(client, bitrix24, imported, after, "3333.00")

    _assert_nothing_lost(
        imported,
        bitrix24,
        {deal_id: amount for ids, amount in [(first, "1111.00"), (during, "2222.00"),
                                             (after, "3333.00")] for deal_id in ids},
    )  # fmt: skip


@pytest.mark.worker
def test_it_loses_no_event_when_database_connections_drop(
    client, bitrix24, imported, deals, celery_workers, worker_env, tasks_to
):
    if connection.vendor != "postgresql":
        pytest.skip("dropping server-side connections needs PostgreSQL (the CI's second pass)")
    # The worker's connections carry a name, so only they are dropped: this process's own
    # (the live server's threads among them) serve the tests that run after this one.
    named = f"{database_url_for_subprocess()}?application_name={DROPPED}"
    celery_workers.start(**worker_env, DATABASE_URL=named)
    first, after = deals[:20], deals[20:40]
    _change_and_post(client, bitrix24, imported, first, "4444.00")
    inbox = InboundEvent.objects.for_portal(imported)
    assert wait_until(lambda: inbox.exclude(status=InboundEvent.Status.PENDING).exists())
    deadline, dropped = time.monotonic() + 2, 0
    while time.monotonic() < deadline:  # every connection of the worker, again and again
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = %s",
                [DROPPED],
            )
            dropped += cursor.rowcount
        time.sleep(0.1)
    assert dropped, "the worker held no connection to drop"
    _change_and_post(client, bitrix24, imported, after, "5555.00")

    _assert_nothing_lost(
        imported,
        bitrix24,
        {deal_id: "4444.00" for deal_id in first} | {deal_id: "5555.00" for deal_id in after},
    )
