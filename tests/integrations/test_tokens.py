from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from crmapp.models import Portal
from integrations.bitrix24 import sdk
from integrations.bitrix24.adapter import Bitrix24Adapter
from integrations.errors import ReauthorisationRequired

WORKERS = 12


@pytest.fixture
def portal(sandbox_portal):
    return sandbox_portal


@pytest.fixture
def refreshes(monkeypatch):
    """Counts refresh-token grants our app sends to the OAuth server."""
    calls = []
    original = sdk.oauth_refresh

    def counting(refresh_token):
        calls.append(refresh_token)
        return original(refresh_token)

    monkeypatch.setattr(sdk, "oauth_refresh", counting)
    return calls


@pytest.mark.django_db(transaction=True)
def test_it_refreshes_once_when_many_workers_hit_an_expired_token(bitrix24, portal, refreshes):
    bitrix24.control.expire_tokens()
    start = threading.Barrier(WORKERS)

    def worker(_):
        adapter = Bitrix24Adapter(Portal.objects.get(pk=portal.pk))
        start.wait()
        try:
            return adapter.call("user.current")["ID"]
        finally:
            connection.close()

    with ThreadPoolExecutor(WORKERS) as pool:
        users = list(pool.map(worker, range(WORKERS)))

    assert users == ["1"] * WORKERS
    assert len(refreshes) == 1
    portal.refresh_from_db()
    assert portal.status == Portal.Status.ACTIVE
    # The stored pair is the live one: the next expiry refreshes with it without a lockout.
    bitrix24.control.expire_tokens()
    assert Bitrix24Adapter(portal).call("user.current")["ID"] == "1"
    assert len(refreshes) == 2


@pytest.mark.django_db
def test_it_marks_the_portal_for_reauthorisation_when_refresh_is_refused(bitrix24, portal):
    Portal.objects.filter(pk=portal.pk).update(refresh_token="")
    portal.refresh_token = "a-refresh-token-bitrix24-no-longer-knows"
    portal.save()
    bitrix24.control.expire_tokens()

    with pytest.raises(ReauthorisationRequired):
        Bitrix24Adapter(Portal.objects.get(pk=portal.pk)).call("user.current")

    portal.refresh_from_db()
    assert portal.status == Portal.Status.NEEDS_REAUTH
    out = StringIO()
    call_command("portals", "--format", "json", stdout=out)
    assert json.loads(out.getvalue())[0]["status"] == "needs_reauth"


@pytest.mark.django_db
def test_it_refreshes_on_invalid_token_too(bitrix24, portal, refreshes):
    portal.access_token = "revoked-access-token"
    portal.save()

    assert Bitrix24Adapter(Portal.objects.get(pk=portal.pk)).call("user.current")["ID"] == "1"
    assert len(refreshes) == 1
