"""Sessions end (an absolute lifetime, whatever their use); downloads carry their own token."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
import time_machine
from django.utils import timezone

from frontend.session import (
    ABSOLUTE_SECONDS,
    DOWNLOAD_MAX_AGE_SECONDS,
    AppSession,
    session_issue,
    session_read,
)


@pytest.fixture
def opened(connected):
    return session_issue(AppSession(portal_id=connected.pk, user_crm_id=1, role="admin"))


def _get(client, url, token=None):
    headers = {"X-App-Session": token} if token else {}
    return client.get(url, headers=headers)


@pytest.mark.django_db
def test_a_session_in_constant_use_still_ends(client, opened):
    start = timezone.now()
    token, hours = opened, 0
    with time_machine.travel(start, tick=False) as clock:
        while True:
            clock.shift(timedelta(hours=1))
            hours += 1
            response = _get(client, "/app/progress/", token)
            if response.status_code != 200:
                break
            renewed = response["X-App-Session"]
            assert session_read(renewed).started_at == session_read(token).started_at
            token = renewed

    assert response.status_code == 401
    assert "reopen the application" in response.content.decode() or "CRM" in (
        response.content.decode()
    )
    assert hours == ABSOLUTE_SECONDS // 3600  # the renewals before it all succeeded


def _export_link(page) -> tuple[str, dict]:
    href = re.search(r'href="([^"]*format=xlsx[^"]*)" download', page.content.decode()).group(1)
    path, query = href.replace("&amp;", "&").split("?", 1)
    return path, parse_qs(query)


@pytest.mark.django_db
def test_a_download_link_carries_a_single_purpose_token_not_the_session(client, opened):
    page = _get(client, "/app/reports/efficiency/?period=month", opened)
    path, query = _export_link(page)

    assert "s" not in query and "d" in query
    download = query["d"][0]
    assert client.get(f"{path}?period=month&format=xlsx&d={download}").status_code == 200
    # Not the session: it opens nothing else, and cannot be sent as one.
    assert client.get(f"/app/reports/forgotten/?format=xlsx&d={download}").status_code == 401
    assert _get(client, "/app/", download).status_code == 401
    assert client.get(f"/app/?s={download}").status_code == 401


@pytest.mark.django_db
def test_a_download_token_is_short_lived(client, opened):
    path, query = _export_link(_get(client, "/app/reports/efficiency/?period=month", opened))

    later = timezone.now() + timedelta(seconds=DOWNLOAD_MAX_AGE_SECONDS + 60)
    with time_machine.travel(later, tick=False):
        response = client.get(f"{path}?format=xlsx&d={query['d'][0]}")

    assert response.status_code == 401


@pytest.mark.django_db
def test_the_plan_export_link_has_its_own_token(client, opened):
    page = _get(client, "/app/plan/", opened).content.decode()
    href = re.search(r'href="(/app/plan/export/[^"]*)" download', page).group(1)
    query = parse_qs(href.replace("&amp;", "&").split("?", 1)[1])

    assert "s" not in query and "d" in query
    assert client.get(href.replace("&amp;", "&")).status_code == 200
