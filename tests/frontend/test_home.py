from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_it_shows_no_portal_to_the_public(client, portal_a):
    response = client.get("/")
    assert response.status_code == 200
    assert portal_a.key not in response.content.decode()
    # It names the marketplaces of the CRMs the app can be installed from, as the registry has them.
    assert "из маркетплейса Битрикс24 / amoCRM;" in response.content.decode()


@pytest.mark.django_db
def test_it_leads_to_the_sandbox_portal_in_the_demo(client, settings):
    settings.SANDBOX_INFO_FILE = "/nonexistent/sandbox.json"
    assert client.get("/")["Location"] == "/crm-host/"
    assert client.get("/crm-host/").status_code == 404


@pytest.mark.django_db
def test_it_reports_health(client):
    assert client.get("/healthz").json() == {"status": "ok"}


@pytest.mark.django_db
def test_it_has_an_icon_for_every_page(client):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 301 and icon["Location"].endswith("frontend/favicon.svg")
    assert 'rel="icon"' in client.get("/").content.decode()
