"""A portal's whole life through the tiers, with time travel: install → trial with 24 months →
day 15 basic with 3 months (older history gone from pages, API, exports and the database) →
subscribe (24 months) → backfill → the subscription expires → basic again."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from io import BytesIO, StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone
from openpyxl import load_workbook

from crmapp.models import Activity, Deal, Lead, Portal, StageChange
from crmapp.tasks import portals_history_purge
from crmapp.tiers import window_first_day_start
from integrations.sync import entities_refresh
from integrations.tasks import portal_paid_state_refresh
from reports.aggregates import facts_check, facts_recount, facts_stored, rollup_compare
from reports.models import DayFact, MonthFact, ReportSettings
from tests.conftest import open_app
from tests.frontend.test_app_page import _token

YEAR_AGO = "period=custom&from={start}&to={end}"


def _portal(portal: Portal) -> Portal:
    return Portal.objects.get(pk=portal.pk)


def _summary(portal: Portal) -> dict:
    out = StringIO()
    call_command("portals", "--format", "json", stdout=out)
    [row] = [row for row in json.loads(out.getvalue()) if row["key"] == portal.key]
    return row


def _open(client, bitrix24, capture) -> tuple[str, str]:
    """Open the app as the admin (reading the paid state); returns the page and the token."""
    with capture(execute=True):
        response = open_app(client, bitrix24, user_id=1)
    assert response.status_code == 200
    return response.content.decode(), _token(response)


def _year_query() -> str:
    today = timezone.localdate(timezone=timezone.get_default_timezone())
    return YEAR_AGO.format(start=today - timedelta(days=365), end=today)


def _assert_aggregates_are_a_recount(portal: Portal, first_day: date) -> None:
    """The stored aggregates are what a full recount of the mirror gives for the window's days
    (earlier days are never read: periods are clamped to the window; a purge deletes them)."""
    stored, recount = facts_stored(portal), facts_recount(portal)
    assert {key: values for key, values in stored.items() if key[0] >= first_day} == {
        key: values for key, values in recount.items() if key[0] >= first_day
    }
    assert facts_check(portal, now=timezone.now(), sample=10**6).ok  # every stored day
    assert rollup_compare(portal) == []  # every month is its days summed


def _assert_history_starts_at(portal: Portal, cutoff) -> None:
    """Nothing whose every date is before the cut-off is left, in any history table."""
    for model in (Deal, Lead):
        old = (
            model.objects.for_portal(portal)
            .exclude(semantic="open")
            .filter(created_at__lt=cutoff, modified_at__lt=cutoff, last_touch_at__lt=cutoff)
            .exclude(closed_at__gte=cutoff)
            .exclude(moved_at__gte=cutoff)
        )
        kept_by_history = StageChange.objects.for_portal(portal).filter(changed_at__gte=cutoff)
        assert not old.exclude(crm_id__in=kept_by_history.values("owner_crm_id")).exists()
    assert not DayFact.objects.for_portal(portal).filter(day__lt=cutoff.date()).exists()
    first_month = cutoff.date().replace(day=1)
    assert not MonthFact.objects.for_portal(portal).filter(month__lt=first_month).exists()
    orphans = StageChange.objects.for_portal(portal).filter(
        entity_type="deal", changed_at__lt=cutoff
    )
    assert not orphans.exclude(
        owner_crm_id__in=Deal.objects.for_portal(portal).values("crm_id")
    ).exists()


@pytest.mark.django_db
def test_it_lives_through_trial_basic_subscription_and_expiry(
    installed, client, bitrix24, settings, portal_b, django_capture_on_commit_callbacks
):
    settings.BITRIX24_PAID_TIER = "subscription-24"
    capture = django_capture_on_commit_callbacks
    portal = installed
    custom = ReportSettings.of(portal)
    custom.deal_days = 21
    custom.save()
    Deal.objects.create(
        portal=portal_b,
        crm_id=1,
        semantic="won",
        created_at=timezone.now() - timedelta(days=700),
        modified_at=timezone.now() - timedelta(days=700),
        last_touch_at=timezone.now() - timedelta(days=700),
    )

    with time_machine.travel(timezone.now(), tick=True) as traveller:
        # Install: a trial keeping 24 months, its days left on every page.
        summary = _summary(portal)
        assert (summary["tier"], summary["window_months"], summary["trial_days_left"]) == (
            "trial", 24, 14,
        )  # fmt: skip
        page, _ = _open(client, bitrix24, capture)
        assert 'id="trial-notice"' in page
        three_months_ago = timezone.now() - timedelta(days=100)
        old_deals = Deal.objects.for_portal(portal).filter(
            modified_at__lt=three_months_ago, semantic="won"
        )
        assert old_deals.exists()

        # Day 15: basic, 3 months. The app warns before the purge deletes anything.
        traveller.shift(timedelta(days=15))
        summary = _summary(portal)
        assert (summary["tier"], summary["window_months"], summary["trial_days_left"]) == (
            "basic", 3, 0,
        )  # fmt: skip
        page, token = _open(client, bitrix24, capture)
        assert 'id="purge-warning"' in page
        assert "будут удалены этой ночью" in page  # the portal speaks Russian
        assert old_deals.exists()

        portals_history_purge.delay()

        portal = _portal(portal)
        cutoff = window_first_day_start(portal, now=timezone.now())
        assert portal.history_months == 3
        assert not old_deals.exists()
        assert Deal.objects.for_portal(portal).filter(semantic="open").exists()
        _assert_history_starts_at(portal, cutoff)
        _assert_aggregates_are_a_recount(portal, cutoff.date())
        assert ReportSettings.of(portal).deal_days == 21  # user-entered: never purged
        assert Deal.objects.for_portal(portal_b).count() == 1  # another portal: untouched
        # An event on a kept old deal changes its contribution on days before the window too:
        # the window's aggregates still equal a recount, and the self-check agrees.
        old_open = Deal.objects.for_portal(portal).filter(semantic="open", created_at__lt=cutoff)
        changed = old_open.first().crm_id
        bitrix24.control.update("deals", changed, {"OPPORTUNITY": "123456.00"})
        entities_refresh(portal, {"deal": {changed}})
        _assert_aggregates_are_a_recount(portal, cutoff.date())
        page, token = _open(client, bitrix24, capture)
        assert 'id="purge-warning"' not in page

        # Pages, the API and exports clamp a year-long period to the window and say so.
        query = _year_query()
        report = client.get(f"/app/reports/efficiency/?{query}", headers={"X-App-Session": token})
        assert 'id="clamp-notice"' in report.content.decode()
        assert "Оформите подписку, чтобы видеть больше" in report.content.decode()
        api = client.get(f"/api/reports/efficiency/?{query}", headers={"X-App-Session": token})
        assert api.json()["from"] == cutoff.date().isoformat()
        assert api.json()["clamped_from"] < api.json()["from"]
        won = client.get(
            f"/api/reports/efficiency/drill/?{query}&what=won_count",
            headers={"X-App-Session": token},
        ).json()
        assert won["rows"]
        assert all(datetime.fromisoformat(row["closed_at"]) >= cutoff for row in won["rows"])
        export = client.get(f"/app/reports/efficiency/?{query}&format=xlsx&s={token}")
        sheet = load_workbook(BytesIO(export.content)).worksheets[0]
        cells = [str(cell.value) for row in sheet.iter_rows(max_row=6) for cell in row]
        assert any(cutoff.date().isoformat() in cell for cell in cells)

        # Subscribe (24 months): the next app open reads it and backfills from the CRM.
        bitrix24.control.set_app(status="P", payment_expired=False, days=30)
        page, _ = _open(client, bitrix24, capture)
        portal = _portal(portal)
        assert _summary(portal)["tier"] == "subscription-24"
        assert portal.import_phase == Portal.ImportPhase.DONE, portal.import_error
        assert portal.history_months == 24
        assert old_deals.exists()
        first_day = window_first_day_start(portal, now=timezone.now()).date()
        _assert_aggregates_are_a_recount(portal, first_day)
        portals_history_purge.delay()
        assert old_deals.exists()

        # The subscription runs out: the daily read finds it expired; basic again.
        traveller.shift(timedelta(days=31))
        portal_paid_state_refresh.delay(portal.pk)  # the nightly read, for this portal
        portal = _portal(portal)
        assert portal.tier == "basic"
        assert _summary(portal)["window_months"] == 3
        page, _ = _open(client, bitrix24, capture)
        assert 'id="purge-warning"' in page
        portals_history_purge.delay()
        portal = _portal(portal)
        cutoff = window_first_day_start(portal, now=timezone.now())
        assert not old_deals.exists()
        _assert_history_starts_at(portal, cutoff)
        _assert_aggregates_are_a_recount(portal, cutoff.date())
        assert Activity.objects.for_portal(portal).exists()
