from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_it_lists_installed_portals(client, portal_a):
    response = client.get("/")
    assert response.status_code == 200
    assert portal_a.key in response.content.decode()


@pytest.mark.django_db
def test_it_reports_health(client):
    assert client.get("/healthz").json() == {"status": "ok"}
