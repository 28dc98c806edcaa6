"""Fixtures for the amoCRM adapter tests.

- ``amo_sandbox`` (session): a small sandbox amoCRM account, seed 1 (the Bitrix24 sandbox's
  business), its rate limit relaxed so a suite does not trip 429.
- ``amo_account`` (function): the same account reset to its rendered data.
- ``amo_portal`` (function): a portal row holding the installing admin's tokens (no install
  callback, no import), as ``sandbox_portal`` is for Bitrix24.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations.sandbox import Sandbox, start_sandbox
from tests.integrations.sandbox.amocrm.helpers import exchange

RELAXED = (1000.0, 200.0)


@pytest.fixture(scope="session")
def amo_sandbox() -> Iterator[Sandbox]:
    sandbox = start_sandbox(crm="amocrm", seed=1, scale="small", rate_limit=RELAXED)
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture
def amo_account(amo_sandbox: Sandbox, monkeypatch, settings) -> Sandbox:
    amo_sandbox.reset()
    info = amo_sandbox.info
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.setenv(name, info["ca_bundle"])
    settings.AMOCRM_CLIENT_ID = info["client_id"]
    settings.AMOCRM_CLIENT_SECRET = info["client_secret"]
    settings.AMOCRM_REDIRECT_URI = info["redirect_uri"]
    settings.AMOCRM_ACCOUNT_HOSTS = [info["domain"]]
    # The sandbox's own limit is relaxed here too; test_client.py holds both at amoCRM's.
    settings.AMOCRM_REQUESTS_PER_SECOND = 200
    return amo_sandbox


@pytest.fixture
def amo_portal(amo_account: Sandbox, make_portal):
    from crmapp.models import Portal

    info = amo_account.info
    token = exchange(amo_account, info["install"]["code"])
    return make_portal(
        kind=Portal.Kind.AMOCRM,
        key=info["subdomain"],
        domain=info["domain"],
        member_id=str(info["account_id"]),
        client_endpoint=f"https://{info['domain']}/api/v4/",
        access_token=token["access_token"],
        refresh_token=token["refresh_token"],
        time_zone=info["portal"]["time_zone"],
    )


@pytest.fixture
def amo_live(client, amo_account, live_server, settings, django_capture_on_commit_callbacks):
    """The sandbox account installed through the real callback and imported, served live with
    its host page (/crm-host/amocrm/) as the demo runs it."""
    from crmapp.models import Portal

    settings.PUBLIC_URL = live_server.url
    settings.FRAME_ANCESTORS_EXTRA = [live_server.url]
    settings.AMOCRM_SANDBOX_INFO = amo_account.info
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get("/amocrm/oauth/callback/", amo_account.info["install"])
    assert response.status_code == 200, response.content
    portal = Portal.objects.get(kind=Portal.Kind.AMOCRM)
    assert portal.import_phase == Portal.ImportPhase.DONE, portal.import_error
    return live_server


@pytest.fixture
def amo_hooked(amo_portal, live_server, settings):
    """The account imported inline, with our webhook subscribed at the live server."""
    from integrations.registry import adapter_for
    from tests.integrations.amocrm.test_import import _import

    settings.PUBLIC_URL = live_server.url
    portal = _import(amo_portal)
    portal.application_token = "application-token-of-the-hooked-portal"
    portal.save()
    adapter_for(portal).events_bind()
    return portal
