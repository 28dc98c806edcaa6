"""The amoCRM client against the sandbox account: one refresh however many workers hit a 401,
unpaid and blocked accounts stored and left alone, and never more than 5 requests a second."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from django.db import connection
from django.utils import timezone

from crmapp.models import Portal
from integrations.amocrm.client import AmoClient
from integrations.errors import CrmError, ReauthorisationRequired
from integrations.registry import adapter_for

WORKERS = 12


@pytest.fixture
def refreshes(amo_account, monkeypatch):
    """The refresh grants the sandbox account receives."""
    tokens = amo_account.portal.tokens
    calls, original = [], tokens.refresh

    def counting(refresh_token):
        calls.append(refresh_token)
        return original(refresh_token)

    monkeypatch.setattr(tokens, "refresh", counting)
    return calls


def account_id(portal: Portal) -> int:
    return int(AmoClient(Portal.objects.get(pk=portal.pk)).get("/api/v4/account")["id"])


def events_read(portal: Portal) -> dict | None:
    """The events list: the read amoCRM closes first when the account is unpaid."""
    return AmoClient(Portal.objects.get(pk=portal.pk)).get("/api/v4/events", {"limit": 1})


@pytest.mark.django_db(transaction=True)
def test_many_workers_hitting_an_expired_token_refresh_it_once(amo_portal, amo_account, refreshes):
    amo_account.control.request("POST", "/tokens/expire")
    start = threading.Barrier(WORKERS)

    def worker(_):
        client = AmoClient(Portal.objects.get(pk=amo_portal.pk))
        start.wait()
        try:
            return client.get("/api/v4/account")["id"]
        finally:
            connection.close()

    with ThreadPoolExecutor(WORKERS) as pool:
        answers = list(pool.map(worker, range(WORKERS)))

    assert answers == [amo_account.info["account_id"]] * WORKERS
    assert len(refreshes) == 1
    # The stored pair is the live one: the next expiry refreshes with it, no lockout.
    amo_account.control.request("POST", "/tokens/expire")
    assert account_id(amo_portal) == amo_account.info["account_id"]
    assert len(refreshes) == 2


@pytest.mark.django_db
def test_a_refused_refresh_marks_the_portal_for_reauthorisation(amo_portal, amo_account):
    Portal.objects.filter(pk=amo_portal.pk).update(refresh_token="revoked-long-ago")
    amo_account.control.request("POST", "/tokens/expire")

    with pytest.raises(ReauthorisationRequired):
        account_id(amo_portal)

    assert Portal.objects.get(pk=amo_portal.pk).status == Portal.Status.NEEDS_REAUTH


@pytest.mark.django_db
def test_an_unpaid_account_is_stored_and_asked_again_only_after_an_hour(amo_portal, amo_account):
    amo_account.control.request("POST", "/unpaid", {"unpaid": True})
    with pytest.raises(CrmError) as unpaid:
        events_read(amo_portal)
    assert not unpaid.value.retryable
    portal = Portal.objects.get(pk=amo_portal.pk)
    assert portal.crm_state == Portal.CrmState.UNPAID

    amo_account.control.request("POST", "/unpaid", {"unpaid": False})
    with pytest.raises(CrmError, match="within the hour"):  # no request: it would be refused
        events_read(amo_portal)
    Portal.objects.filter(pk=portal.pk).update(crm_state_at=timezone.now() - timedelta(hours=2))

    events_read(amo_portal)
    assert Portal.objects.get(pk=portal.pk).crm_state == Portal.CrmState.OK


@pytest.mark.django_db
def test_a_blocked_account_is_stored_and_shown(amo_portal, amo_account, client):
    from io import StringIO

    from django.core.management import call_command

    amo_account.control.request("POST", "/rate_limit", {"capacity": 1, "rate": 0.01,
                                                        "block_after": 2})  # fmt: skip
    bearer = {"Authorization": f"Bearer {amo_portal.access_token}"}
    for _ in range(4):  # someone else's integration overruns the account's limit
        requests.get(f"{amo_account.url}/api/v4/account", headers=bearer, timeout=10,
                     verify=amo_account.info["ca_bundle"])  # fmt: skip
    try:
        with pytest.raises(CrmError):
            account_id(amo_portal)
    finally:
        amo_account.control.request("POST", "/unblock")

    assert Portal.objects.get(pk=amo_portal.pk).crm_state == Portal.CrmState.BLOCKED
    listing = StringIO()
    call_command("portals", "--format", "json", stdout=listing)
    assert '"status": "blocked"' in listing.getvalue()


@pytest.mark.django_db(transaction=True)
def test_an_import_read_by_several_workers_at_once_never_meets_a_429(
    amo_portal, amo_account, settings
):
    # amoCRM's own limit is 7/s; the account here takes 5/s with no burst, as we promise.
    settings.AMOCRM_REQUESTS_PER_SECOND = 5
    amo_account.control.request("POST", "/rate_limit", {"capacity": 3, "rate": 5})
    overruns_before = len(amo_account.portal.overruns)
    sources = adapter_for(amo_portal).history_sources(timezone.now() - timedelta(days=400))

    def worker(source):
        try:
            return sum(1 for _ in source.stream(0))
        finally:
            connection.close()

    with ThreadPoolExecutor(4) as pool:
        rows = sum(pool.map(worker, sources[:4]))

    assert rows > 0
    assert len(amo_account.portal.overruns) == overruns_before  # the account never said 429
