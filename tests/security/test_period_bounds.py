"""A report's period is bounded at both ends; a period beyond them is refused with a sentence."""

from __future__ import annotations

import re
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from frontend.session import AppSession, session_issue
from reports.scope import MAX_PERIOD_DAYS, Viewer, report_horizon, scope_resolve


def _today(portal) -> date:
    return timezone.now().astimezone(ZoneInfo(portal.time_zone)).date()


@pytest.fixture
def admin_token(connected):
    return session_issue(AppSession(portal_id=connected.pk, user_crm_id=1, role="admin"))


def _api(client, token, path):
    return client.get(path, headers={"X-App-Session": token})


def test_the_horizon_is_the_end_of_the_month_a_year_ahead():
    assert report_horizon(date(2026, 12, 2)) == date(2027, 12, 31)
    assert report_horizon(date(2028, 2, 29)) == date(2029, 2, 28)
    assert report_horizon(date(2026, 1, 31)) == date(2027, 1, 31)


@pytest.mark.django_db
def test_it_clamps_a_far_end_to_the_horizon(connected):
    today = _today(connected)

    scope = scope_resolve(
        connected, Viewer.operator(), start=today.replace(day=1), end=date(9998, 12, 31)
    )

    assert scope.end == report_horizon(today)
    assert (scope.end - scope.start).days <= MAX_PERIOD_DAYS


@pytest.mark.django_db
def test_it_refuses_a_period_starting_beyond_the_horizon(connected):
    with pytest.raises(ValueError, match=r"at the latest|не дальше"):
        scope_resolve(connected, Viewer.operator(), start=date(9000, 1, 1), end=date(9000, 12, 31))


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["plan", "efficiency", "forgotten"])
def test_the_api_answers_a_far_period_quickly_and_bounded(client, admin_token, name):
    response = _api(
        client, admin_token, f"/api/reports/{name}/?period=custom&from=2020-01-01&to=9999-12-31"
    )

    assert response.status_code == 200
    assert len(response.content) < 5_000_000


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "period=custom&from=9000-01-01&to=9999-12-31",
        "period=custom&from=2026-01-01&to=99999-01-01",
        "employee=" + "1" + "0" * 30,
        "department=-5",
        "pipeline=" + "9" * 5000,
    ],
    ids=["after-horizon", "year-99999", "employee-1e30", "negative", "huge-digits"],
)
def test_the_api_refuses_an_impossible_filter_with_a_sentence(client, admin_token, query):
    response = _api(client, admin_token, f"/api/reports/efficiency/?{query}")

    assert response.status_code == 400
    detail = response.json()["detail"]
    assert " " in detail and len(detail) < 300


@pytest.mark.django_db
@pytest.mark.parametrize("param", ["offset", "limit"])
@pytest.mark.parametrize("value", [str(2**63), str(2**64 + 1), "9" * 5000])
def test_the_drill_refuses_offsets_beyond_any_table(client, admin_token, param, value):
    response = _api(
        client, admin_token, f"/api/reports/efficiency/drill/?what=won_count&{param}={value}"
    )

    assert response.status_code == 400
    assert param in response.json()["detail"]


@pytest.mark.django_db
def test_a_page_refuses_a_period_beyond_the_horizon(client, admin_token):
    response = client.get(
        "/app/reports/efficiency/?period=custom&from=9000-01-01&to=9000-01-02",
        headers={"X-App-Session": admin_token},
    )

    assert response.status_code == 400
    assert re.search("at the latest|не дальше", response.content.decode())


@pytest.mark.django_db
def test_a_page_with_a_far_end_still_opens(client, admin_token, connected):
    end = _today(connected) + timedelta(days=3000)
    response = client.get(
        f"/app/reports/plan/?period=custom&from=2026-01-01&to={end.isoformat()}",
        headers={"X-App-Session": admin_token},
    )

    assert response.status_code == 200
