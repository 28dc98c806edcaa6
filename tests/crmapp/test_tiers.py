from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from crmapp.models import Portal
from crmapp.tiers import (
    portal_paid_state_apply,
    portal_tier,
    portal_tier_override,
    tier_ends_at,
    trial_days_left,
    window_first_day_start,
)
from integrations.bitrix24.normalize import paid_state_from_b24
from integrations.errors import InvalidPayload

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


def _portal(make_portal, **fields) -> Portal:
    return make_portal(trial_started_at=NOW - timedelta(days=3), **fields)


@pytest.mark.django_db
def test_it_is_a_trial_for_14_days_then_basic(make_portal):
    portal = _portal(make_portal)
    assert (portal_tier(portal, now=NOW), trial_days_left(portal, now=NOW)) == ("trial", 11)
    later = NOW + timedelta(days=11)
    assert (portal_tier(portal, now=later), trial_days_left(portal, now=later)) == ("basic", 0)


@pytest.mark.django_db
def test_it_keeps_a_subscription_until_it_lapses(make_portal):
    portal = _portal(make_portal)
    portal_paid_state_apply(portal, tier="subscription-12", days_left=30, now=NOW)
    portal.refresh_from_db()
    assert portal_tier(portal, now=NOW + timedelta(days=29)) == "subscription-12"
    assert tier_ends_at(portal, now=NOW) == NOW + timedelta(days=30)
    assert portal_tier(portal, now=NOW + timedelta(days=30)) == "basic"

    portal_paid_state_apply(portal, tier=None, days_left=None, now=NOW)
    portal.refresh_from_db()
    assert portal_tier(portal, now=NOW) == "trial"  # unpaid, but still within the trial


@pytest.mark.django_db
def test_it_lets_an_operator_override_win_until_its_date(make_portal):
    portal = _portal(make_portal, tier="subscription-12")
    portal_tier_override(portal, tier="basic", until=NOW + timedelta(days=5), now=NOW)
    portal.refresh_from_db()
    assert portal_tier(portal, now=NOW + timedelta(days=4)) == "basic"
    assert portal_tier(portal, now=NOW + timedelta(days=5)) == "subscription-12"

    with pytest.raises(ValueError, match="unknown tier"):
        portal_tier_override(portal, tier="gold", until=None, now=NOW)
    with pytest.raises(ValueError, match="before it starts"):
        portal_tier_override(portal, tier="basic", until=NOW - timedelta(days=1), now=NOW)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"STATUS": "P", "PAYMENT_EXPIRED": "N", "DAYS": 30}, ("subscription-24", 30)),
        ({"STATUS": "S", "PAYMENT_EXPIRED": "N", "DAYS": None}, ("subscription-24", None)),
        ({"STATUS": "P", "PAYMENT_EXPIRED": "Y", "DAYS": 0}, (None, None)),
        ({"STATUS": "T", "PAYMENT_EXPIRED": "N", "DAYS": 10}, (None, None)),
        ({"STATUS": "F", "PAYMENT_EXPIRED": "N", "DAYS": None}, (None, None)),
    ],
    ids=["paid", "subscription", "expired", "bitrix24-trial", "free"],
)
def test_it_reads_the_paid_state_from_app_info(row, expected):
    state = paid_state_from_b24(row, paid_tier="subscription-24")
    assert (state.tier, state.days_left) == expected


def test_it_refuses_a_malformed_app_info():
    with pytest.raises(InvalidPayload):
        paid_state_from_b24({"STATUS": "P", "DAYS": "soon"}, paid_tier="subscription-12")


@pytest.mark.django_db
def test_it_overrides_the_tier_from_the_command_line(make_portal, monkeypatch):
    from integrations import tasks

    backfills = []
    monkeypatch.setattr(tasks.portal_history_backfill, "delay", backfills.append)
    portal = make_portal(
        trial_started_at=timezone.now() - timedelta(days=20),
        import_phase=Portal.ImportPhase.DONE,
        history_months=3,
    )
    out = StringIO()

    call_command(
        "portal_tier", portal.key, "--tier", "subscription-24", "--until", "2099-01-31", stdout=out
    )

    portal.refresh_from_db()
    # Through the whole last day, in the portal's time zone.
    ends = datetime(2099, 2, 1, tzinfo=ZoneInfo(portal.time_zone))
    assert (portal.tier_override, portal.tier_override_until) == ("subscription-24", ends)
    assert "subscription-24 (24 months of history)" in out.getvalue()
    assert backfills == [portal.pk]

    call_command("portal_tier", portal.key, "--clear", stdout=out)
    portal.refresh_from_db()
    assert (portal.tier_override, portal.tier_override_until) == ("", None)
    assert portal_tier(portal, now=timezone.now()) == "basic"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "arguments",
    [
        ["nowhere.bitrix24.ru", "--tier", "basic"],
        ["{key}", "--tier", "gold"],
        ["{key}", "--tier", "basic", "--until", "31.01.2099"],
        ["{key}", "--tier", "basic", "--until", "2000-01-01"],
        ["{key}", "--clear", "--until", "2099-01-01"],
        ["{key}"],
    ],
    ids=["unknown-portal", "unknown-tier", "bad-date", "past-date", "clear-until", "no-tier"],
)
def test_it_refuses_a_bad_override_and_changes_nothing(make_portal, arguments):
    portal = make_portal()
    with pytest.raises(CommandError):
        call_command("portal_tier", *[a.format(key=portal.key) for a in arguments])
    portal.refresh_from_db()
    assert (portal.tier_override, portal.tier_override_until) == ("", None)


def test_it_exits_non_zero_on_a_bad_override_from_the_shell(tmp_path):
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "manage.py", "portal_tier", "x", "--tier", "gold"],
        capture_output=True,
        text=True,
        env=os.environ | {"VAR_DIR": str(tmp_path)},
        check=False,
    )
    assert result.returncode != 0
    assert "invalid choice: 'gold'" in result.stderr


@pytest.mark.django_db
def test_it_lists_each_portals_tier_window_and_days_left(make_portal):
    portal = make_portal(trial_started_at=timezone.now() - timedelta(days=3))
    out = StringIO()

    call_command("portals", stdout=out)

    header, row = (line.split() for line in out.getvalue().splitlines())
    first_day = window_first_day_start(portal, now=timezone.now()).date().isoformat()
    assert header[3:7] == ["tier", "window_months", "window_from", "trial_days_left"]
    assert row[3:7] == ["trial", "24", first_day, "11"]


@pytest.mark.django_db
def test_it_lets_an_operator_override_the_tier_in_django_admin(
    admin_client, make_portal, monkeypatch, django_capture_on_commit_callbacks
):
    from integrations import tasks

    backfills = []
    monkeypatch.setattr(tasks.portal_history_backfill, "delay", backfills.append)
    portal = make_portal(
        trial_started_at=timezone.now() - timedelta(days=20),
        import_phase=Portal.ImportPhase.DONE,
        history_months=3,
    )
    form = {
        "status": "active", "tier_override": "subscription-12", "time_zone": portal.time_zone,
        "tier_override_until_0": "2099-01-31", "tier_override_until_1": "00:00:00",
    }  # fmt: skip

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/admin/crmapp/portal/{portal.pk}/change/", form)

    assert response.status_code == 302, response.content.decode()[:2000]
    portal.refresh_from_db()
    assert portal_tier(portal, now=timezone.now()) == "subscription-12"
    assert backfills == [portal.pk]
    listing = admin_client.get("/admin/crmapp/portal/").content.decode()
    assert "subscription-12" in listing
