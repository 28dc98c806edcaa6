from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from crmapp.models import Activity, Deal, Lead, Portal, StageChange
from crmapp.retention import portal_history_purge
from reports.aggregates import facts_rebuild
from reports.facts import STATE_DAY
from reports.models import DayFact, ReportSettings

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
OLD = NOW - timedelta(days=200)  # before a basic portal's 3 months
RECENT = NOW - timedelta(days=10)


@pytest.fixture
def basic(make_portal) -> Portal:
    return make_portal(
        trial_started_at=NOW - timedelta(days=60),
        import_phase=Portal.ImportPhase.DONE,
        history_months=24,
    )


def _deal(portal, crm_id, *, semantic="won", at=OLD, **fields) -> Deal:
    dates = {"created_at": at, "modified_at": at, "last_touch_at": at, "closed_at": at}
    if semantic == "open":
        dates["closed_at"] = None
    return Deal.objects.create(portal=portal, crm_id=crm_id, semantic=semantic, **(dates | fields))


def _change(portal, crm_id, owner, at, semantic="won") -> StageChange:
    return StageChange.objects.create(
        portal=portal, crm_id=str(crm_id), entity_type="deal", owner_crm_id=owner,
        kind=StageChange.Kind.CLOSED, stage_crm_id="WON", semantic=semantic, changed_at=at,
    )  # fmt: skip


def _activity(portal, crm_id, *, owner_type="deal", owner=0, at=OLD, **fields) -> Activity:
    values = {"created_at": at, "completed": True, "completed_at": at} | fields
    return Activity.objects.create(
        portal=portal, crm_id=crm_id, kind="call", owner_type=owner_type, owner_crm_id=owner,
        **values,
    )  # fmt: skip


def _ids(model, portal) -> set[int]:
    return set(model.objects.for_portal(portal).values_list("crm_id", flat=True))


@pytest.mark.django_db
def test_it_deletes_only_rows_whose_every_date_is_before_the_window(basic, portal_b):
    _deal(basic, 1)  # closed long ago: goes
    _deal(basic, 2, semantic="open")  # still open: stays
    _deal(basic, 3, moved_at=RECENT)  # moved inside the window: stays
    _deal(basic, 4)  # its stage history reaches into the window: stays
    _deal(basic, 5, close_date=NOW + timedelta(days=3))  # expected close date ahead: stays
    for crm_id, owner, at in [(11, 1, OLD), (12, 3, OLD), (13, 4, OLD), (14, 4, RECENT)]:
        _change(basic, crm_id, owner, at)
    _activity(basic, 21, owner=1)  # of a purged deal: goes
    _activity(basic, 22, owner=2)  # of a kept deal (its last touch): stays
    _activity(basic, 23, owner_type="contact", owner=7)  # of a contact, long ago: goes
    _activity(basic, 24, owner_type="contact", owner=7, deadline=NOW)  # due in the window
    Lead.objects.create(portal=basic, crm_id=31, semantic="lost", created_at=OLD,
                        modified_at=OLD, last_touch_at=OLD, closed_at=OLD)  # fmt: skip
    _deal(portal_b, 1)

    deleted = portal_history_purge(basic, now=NOW)

    assert (deleted["deal"], deleted["lead"], deleted["activity"]) == (1, 1, 2)
    assert _ids(Deal, basic) == {2, 3, 4, 5}
    assert _ids(Activity, basic) == {22, 24}
    assert not Lead.objects.for_portal(basic).exists()
    # The history of every kept deal stays whole; the purged deal's goes with it.
    assert set(StageChange.objects.for_portal(basic).values_list("crm_id", flat=True)) == {
        "12", "13", "14",
    }  # fmt: skip
    assert _ids(Deal, portal_b) == {1}
    assert Portal.objects.get(pk=basic.pk).history_months == 3


@pytest.mark.django_db
def test_it_keeps_the_window_the_state_and_what_users_entered(basic):
    settings = ReportSettings.of(basic)
    settings.lead_days = 9
    settings.save()
    _deal(basic, 1, semantic="open")
    facts_rebuild(basic)
    days = set(DayFact.objects.for_portal(basic).values_list("day", flat=True))
    assert days == {OLD.date(), STATE_DAY}

    portal_history_purge(basic, now=NOW)

    assert set(DayFact.objects.for_portal(basic).values_list("day", flat=True)) == {STATE_DAY}
    assert ReportSettings.of(basic).lead_days == 9


@pytest.mark.django_db
def test_it_cuts_at_the_first_days_midnight_in_the_portals_zone(basic):
    # Basic keeps 3 months: from 22 Aug 2026 12:00 UTC, so from 22 Aug 00:00 in Moscow.
    _deal(basic, 1, at=datetime(2026, 8, 21, 20, 59, tzinfo=UTC))  # 21 Aug 23:59 MSK: goes
    _deal(basic, 2, at=datetime(2026, 8, 21, 21, 0, tzinfo=UTC))  # 22 Aug 00:00 MSK: stays
    facts_rebuild(basic)

    portal_history_purge(basic, now=NOW)

    assert _ids(Deal, basic) == {2}
    days = set(DayFact.objects.for_portal(basic).values_list("day", flat=True))
    assert days == {date(2026, 8, 22)}


@pytest.mark.django_db
def test_it_leaves_a_running_import_alone(basic):
    Portal.objects.filter(pk=basic.pk).update(import_phase=Portal.ImportPhase.RUNNING)
    _deal(basic, 1)

    assert portal_history_purge(basic, now=NOW) == {}
    assert _ids(Deal, basic) == {1}
