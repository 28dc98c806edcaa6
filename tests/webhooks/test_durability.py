from __future__ import annotations

import signal

import pytest

from crmapp.celery import app as celery_app
from crmapp.models import Deal
from integrations.mirror import mirror_directory_apply
from integrations.registry import adapter_for
from tests.conftest import wait_until
from tests.webhooks.test_bitrix24_events import APP_TOKEN, event_body, post
from webhooks.models import InboundEvent
from webhooks.tasks import inbox_sweep

DEALS = list(range(20, 60))


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


@pytest.fixture
def tasks_to(celery_workers):
    """Send this process's tasks to the test workers' queue."""
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = celery_workers.queue
    yield celery_workers.queue
    celery_app.conf.task_default_queue = previous


@pytest.mark.worker
def test_it_loses_no_event_when_the_worker_dies_mid_stream(
    client, bitrix24, portal, celery_workers, worker_env, tasks_to
):
    for deal_id in DEALS:
        bitrix24.control.update("deals", deal_id, {"OPPORTUNITY": f"{deal_id}100.00"})
    first = celery_workers.start(**worker_env)

    for deal_id in DEALS:
        body = event_body(portal, "bitrix24_event_ONCRMDEALUPDATE.txt", entity_id=deal_id)
        assert post(client, body).status_code == 200
    # Every acknowledged event is stored before the answer, whatever happens next.
    assert InboundEvent.objects.for_portal(portal).count() == len(DEALS)

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
        Deal.objects.for_portal(portal).filter(crm_id__in=DEALS).values_list("crm_id", "amount")
    )
    assert {crm_id: f"{amount:.2f}" for crm_id, amount in amounts.items()} == {
        deal_id: f"{deal_id}100.00" for deal_id in DEALS
    }
