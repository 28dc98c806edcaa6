from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Q
from django.utils import timezone

from crmapp.models import Activity, Deal, ImportLane, Lead, Portal, StageChange
from integrations import importer
from integrations.importer import (
    DIRECTORY,
    FACTS,
    lane_part,
    portal_import_begin,
    portal_import_chunk,
)
from integrations.sync import entities_refresh
from reports import aggregates
from reports.aggregates import (
    facts_check,
    facts_compare,
    facts_forget_before,
    facts_recount,
    facts_stored,
    rollup_compare,
)
from reports.facts import STATE_DAY, facts_new, facts_nonzero, owner_facts
from reports.models import DayFact
from reports.rollup import facts_summed
from tests.webhooks.test_bitrix24_events import APP_TOKEN, event_body, post

MSK = ZoneInfo("Europe/Moscow")


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def change(day: int, semantic: str, stage: str, kind=StageChange.Kind.MOVED, hour: int = 12):
    return {
        "crm_id": str(day * 100 + hour),
        "kind": kind,
        "pipeline_crm_id": 0,
        "stage_crm_id": stage,
        "semantic": semantic,
        "changed_at": at(day, hour),
    }


def deal_row(**fields) -> dict:
    return {
        "crm_id": 1,
        "semantic": "won",
        "amount": Decimal("1500.50"),
        "source": "WEB",
        "created_at": at(1),
        "modified_at": at(9),
        "closed_at": at(9),
        "moved_at": at(9),
        "employee": 7,
        "pipeline": 0,
    } | fields


def metric_totals(facts, metric: str) -> dict:
    return {key[0].day: values for key, values in facts.items() if key[1] == metric and any(values)}


def test_a_deal_won_reopened_and_won_again_counts_once_at_its_last_win():
    history = [
        change(1, "open", "NEW", kind=StageChange.Kind.CREATED),
        change(3, "won", "WON", kind=StageChange.Kind.CLOSED),
        change(5, "open", "NEW"),
        change(9, "won", "WON", kind=StageChange.Kind.CLOSED),
    ]
    facts = facts_new()
    owner_facts("deal", deal_row(), history, MSK, facts)

    assert metric_totals(facts, "deal_won") == {9: [1, 150050, 8 * 86400]}
    # In work: +1 when created, −1 at the first win, +1 when reopened, −1 at the last win.
    assert metric_totals(facts, "deal_in_work") == {
        1: [1, 150050, 0],
        3: [-1, -150050, 0],
        5: [1, 150050, 0],
        9: [-1, -150050, 0],
    }
    # Time spent in NEW: two stays, counted on the days they ended.
    assert {day: values for day, values in metric_totals(facts, "deal_stage_out").items()} == {
        3: [1, 0, 2 * 86400],
        5: [1, 0, 2 * 86400],
        9: [1, 0, 4 * 86400],
    }


def test_a_reopened_deal_that_is_open_now_is_not_won_and_is_in_work():
    history = [
        change(1, "open", "NEW", kind=StageChange.Kind.CREATED),
        change(3, "won", "WON", kind=StageChange.Kind.CLOSED),
        change(5, "open", "NEW"),
    ]
    facts = facts_new()
    owner_facts("deal", deal_row(semantic="open", closed_at=None), history, MSK, facts)

    assert metric_totals(facts, "deal_won") == {}
    in_work = metric_totals(facts, "deal_in_work")
    assert sum(values[0] for values in in_work.values()) == 1


def test_an_entity_whose_history_is_incomplete_still_sums_to_its_current_state():
    # Created long before the window: no history, then closed with no history entry seen.
    facts = facts_new()
    row = deal_row(semantic="lost", created_at=at(1) - timedelta(days=900), closed_at=at(9))
    owner_facts("deal", row, [change(4, "open", "NEW")], MSK, facts)

    assert sum(values[0] for values in metric_totals(facts, "deal_in_work").values()) == 0
    assert metric_totals(facts, "deal_lost") == {
        9: [1, 150050, int((at(9) - row["created_at"]).total_seconds())]
    }


def test_stage_stays_end_at_the_next_row_and_the_stage_sat_in_now_keeps_its_entry():
    # Won, reopened, moved to another pipeline and sitting there now.
    history = [
        change(1, "open", "NEW", kind=StageChange.Kind.CREATED),
        change(3, "won", "WON", kind=StageChange.Kind.CLOSED),
        change(5, "open", "NEW"),
        change(6, "open", "C1:NEW", kind=StageChange.Kind.PIPELINE_CHANGED)
        | {"pipeline_crm_id": 1},
    ]
    facts = facts_new()
    row = deal_row(semantic="open", closed_at=None, pipeline=1)
    owner_facts("deal", row, history, MSK, facts)

    exits = {
        (key[0].day, key[3], key[5]): v for key, v in facts.items() if key[1] == "deal_stage_out"
    }
    assert exits == {
        (3, 0, "NEW"): [1, 0, 2 * 86400],
        (5, 0, "WON"): [1, 0, 2 * 86400],
        (6, 0, "NEW"): [1, 0, 86400],
    }
    sitting = {(key[3], key[5]): v for key, v in facts.items() if key[1] == "deal_stage_now"}
    assert sitting == {(1, "C1:NEW"): [1, 0, int(at(6).timestamp())]}
    assert key_days(facts, "deal_stage_now") == {STATE_DAY}

    # Closed now: nothing sits anywhere; a win after more than 180 days is a long cycle.
    facts = facts_new()
    created = at(9) - timedelta(days=181)
    owner_facts("deal", deal_row(created_at=created), history[:2], MSK, facts)
    assert not metric_totals(facts, "deal_stage_now")
    assert metric_totals(facts, "deal_won_long") == {9: [1, 150050, 181 * 86400]}
    facts = facts_new()
    owner_facts("deal", deal_row(created_at=at(9) - timedelta(days=180)), [], MSK, facts)
    assert not metric_totals(facts, "deal_won_long")


def key_days(facts, metric: str) -> set:
    return {key[0] for key, values in facts.items() if key[1] == metric and any(values)}


def test_days_are_the_portals_days():
    facts = facts_new()
    late = datetime(2026, 3, 9, 22, 30, tzinfo=UTC)  # already the 10th in Moscow
    owner_facts("deal", deal_row(closed_at=late), [], MSK, facts)
    assert set(metric_totals(facts, "deal_won")) == {10}


@pytest.fixture
def portal(installed):
    installed.application_token = APP_TOKEN
    installed.save()
    return installed


def assert_facts_are_a_recount(portal: Portal) -> None:
    assert facts_stored(portal) == facts_recount(portal)
    assert rollup_compare(portal) == []  # the months are their days summed


@pytest.mark.django_db
def test_the_import_counts_the_mirror_into_the_aggregates(portal):
    stored = facts_stored(portal)
    assert_facts_are_a_recount(portal)

    def total(metric: str, index: int = 0) -> int:
        return sum(values[index] for key, values in stored.items() if key[1] == metric)

    deals = Deal.objects.for_portal(portal)
    won = deals.filter(semantic="won", closed_at__isnull=False)
    assert total("deal_won") == won.count()
    assert total("deal_won", 1) == sum(
        int(amount * 100) for amount in won.values_list("amount", flat=True)
    )
    assert total("deal_in_work") == deals.filter(semantic="open").count()
    assert total("lead_in_work") == Lead.objects.for_portal(portal).filter(semantic="open").count()
    completed = Activity.objects.for_portal(portal).filter(
        completed=True, completed_at__isnull=False
    )
    assert sum(total(f"activity_{kind}") for kind in Activity.Kind.values) == completed.count()


@pytest.mark.django_db
def test_shuffled_duplicated_events_leave_the_aggregates_equal_to_a_recount(
    client, portal, bitrix24, django_capture_on_commit_callbacks
):
    control = bitrix24.control
    # Deals of the default pipeline (its stages are WON, LOSE, NEW), in a stable order: an
    # unordered query on PostgreSQL returns rows in whatever order earlier tests left the heap.
    deals = Deal.objects.for_portal(portal).filter(pipeline__crm_id=0).order_by("crm_id")
    open_deals = list(deals.filter(semantic="open").values_list("crm_id", flat=True)[:6])
    won_deal = deals.filter(semantic="won").values_list("crm_id", flat=True)[0]
    control.update("deals", open_deals[0], {"STAGE_ID": "WON"})
    control.update("deals", open_deals[1], {"STAGE_ID": "LOSE"})
    control.update("deals", open_deals[2], {"OPPORTUNITY": "123456.78"})
    control.update("deals", won_deal, {"STAGE_ID": "NEW"})  # reopened
    control.move_deal(open_deals[3], 1)
    control.delete("deals", open_deals[4])
    new_deal = control.create("deals", {"TITLE": "New", "OPPORTUNITY": "1000", "ASSIGNED_BY_ID": 1})
    lead = (
        Lead.objects.for_portal(portal).filter(semantic="open").values_list("crm_id", flat=True)[0]
    )
    converted = control.convert_lead(lead)
    events = [
        event_body(portal, "bitrix24_event_ONCRMDEALUPDATE.txt", entity_id=deal_id)
        for deal_id in [*open_deals[:4], won_deal, new_deal, converted]
    ] + [
        event_body(portal, "bitrix24_event_ONCRMDEALDELETE.txt", entity_id=open_deals[4]),
        event_body(portal, "bitrix24_event_ONCRMLEADUPDATE.txt", entity_id=lead),
    ]
    stream = events * 3
    random.Random(5).shuffle(stream)

    with django_capture_on_commit_callbacks(execute=True):
        for body in stream:
            assert post(client, body).status_code == 200

    assert Deal.objects.for_portal(portal).get(crm_id=open_deals[0]).semantic == "won"
    assert_facts_are_a_recount(portal)
    today = timezone.localdate(timezone=ZoneInfo(portal.time_zone))
    won_today = DayFact.objects.for_portal(portal).filter(day=today, metric="deal_won")
    assert sum(won_today.values_list("qty", flat=True)) >= 1


def import_chunk(portal: Portal, run: str, part: str) -> list[str]:
    return portal_import_chunk(Portal.objects.get(pk=portal.pk), run=run, part=part)


def import_to_the_lanes(portal: Portal) -> tuple[str, list[str]]:
    """Begin an import and run it inline until its lanes are all that is left: (run, lanes)."""
    run = portal_import_begin(portal, now=timezone.now())
    queue = [DIRECTORY]
    while queue and not queue[0].startswith(f"{FACTS}:"):
        queue += import_chunk(portal, run, queue.pop(0))
    return run, queue


def _lane(portal: Portal, entity_type: str) -> ImportLane:
    return ImportLane.objects.for_portal(portal).get(entity_type=entity_type)


@pytest.mark.django_db
def test_events_while_the_lanes_run_are_counted_once(portal, bitrix24, monkeypatch):
    monkeypatch.setattr(aggregates, "REBUILD_CHUNK", 100)
    monkeypatch.setattr(importer, "DERIVE_CHUNK", 100)
    monkeypatch.setattr(importer, "TASK_SECONDS", 0)  # one chunk per task
    run, queue = import_to_the_lanes(portal)
    assert sorted(queue) == sorted(lane_part(t) for t in ("lead", "deal", "activity"))
    # The deals' lane partly counted, the leads' still deriving, the activities' not begun.
    while _lane(portal, "deal").step != ImportLane.Step.FACTS or not _lane(portal, "deal").after_id:
        import_chunk(portal, run, lane_part("deal"))
    import_chunk(portal, run, lane_part("lead"))
    assert _lane(portal, "lead").step == ImportLane.Step.DERIVE
    counted_up_to = _lane(portal, "deal").after_id
    ids = sorted(Deal.objects.for_portal(portal).values_list("crm_id", flat=True))
    before, after = (
        [i for i in ids if i <= counted_up_to][:3],
        [i for i in ids if i > counted_up_to][:3],
    )
    assert len(before) == len(after) == 3
    for deal_id in before + after:
        bitrix24.control.update("deals", deal_id, {"OPPORTUNITY": "4242.00", "STAGE_ID": "WON"})
    leads = sorted(Lead.objects.for_portal(portal).values_list("crm_id", flat=True))[:2]
    for lead_id in leads:
        bitrix24.control.update("leads", lead_id, {"STATUS_ID": "JUNK"})
    entities_refresh(
        Portal.objects.get(pk=portal.pk), {"deal": set(before + after), "lead": set(leads)}
    )

    while queue:
        queue += import_chunk(portal, run, queue.pop(0))
    assert Portal.objects.get(pk=portal.pk).import_phase == Portal.ImportPhase.DONE
    assert not ImportLane.objects.for_portal(portal).exists()
    assert_facts_are_a_recount(portal)


@pytest.mark.django_db
def test_the_self_check_finds_a_tampered_day_and_passes_otherwise(portal):
    now = timezone.now()
    assert facts_check(portal, now=now, rng=random.Random(1)).ok

    row = DayFact.objects.for_portal(portal).filter(metric="deal_won").order_by("day").first()
    DayFact.objects.for_portal(portal).filter(pk=row.pk).update(qty=row.qty + 1)
    check = facts_check(portal, now=now, sample=0)
    assert check.ok  # today and yesterday are fine; the bad day was not sampled

    mismatches = facts_compare(portal, [row.day])
    assert [(m["metric"], m["stored"][0] - m["expected"][0]) for m in mismatches] == [
        ("deal_won", 1)
    ]
    # The tampered day no longer sums to its month in the rollup either.
    assert [(m["metric"], m["expected"][0] - m["stored"][0]) for m in rollup_compare(portal)] == [
        ("deal_won", 1)
    ]


@pytest.mark.django_db
def test_sums_over_any_range_equal_its_days_summed(portal):
    today = timezone.localdate(timezone=ZoneInfo(portal.time_zone))
    month_ago = today.replace(day=1) - timedelta(days=1)
    ranges = [
        (today - timedelta(days=400), today),  # whole months between two ragged edges
        (month_ago.replace(day=1) - timedelta(days=60), month_ago),  # ends on a month's end
        (today - timedelta(days=40), today - timedelta(days=35)),
        (today, today),
    ]
    stored = facts_stored(portal)
    for start, end in ranges:
        expected = defaultdict(lambda: [0, 0, 0])
        for (day, metric, employee, *_), values in stored.items():
            if start <= day <= end and metric.startswith("deal_"):
                for index, value in enumerate(values):
                    expected[(day.replace(day=1), metric, employee)][index] += value
        summed = facts_summed(
            portal, start=start, end=end, where=Q(metric__startswith="deal_"),
            keys=("metric", "employee_crm_id"), by_month=True,
        )  # fmt: skip
        assert facts_nonzero(summed) == facts_nonzero(expected), (start, end)


@pytest.mark.django_db
def test_forgetting_the_days_before_a_window_keeps_the_rest_and_the_months_in_step(portal):
    today = timezone.localdate(timezone=ZoneInfo(portal.time_zone))
    window_start = (today - timedelta(days=75)).replace(day=17)  # mid-month
    everything = Q(metric__in=["deal_won", "deal_in_work", "activity_call"])

    def kept():
        summed = facts_summed(
            portal, start=window_start, end=today, where=everything, keys=("metric",)
        )
        return facts_nonzero(summed)

    before, state = kept(), DayFact.objects.for_portal(portal).filter(day=STATE_DAY).count()
    assert facts_forget_before(portal, window_start) > 0
    assert not DayFact.objects.for_portal(portal).filter(day__lt=window_start).exists()
    assert DayFact.objects.for_portal(portal).filter(day=STATE_DAY).count() == state
    assert kept() == before
    assert rollup_compare(portal) == []


def test_a_close_that_left_no_history_row_counts_from_the_last_modification():
    # Junk now; the history's last row says "in work" (an import closed it without a row).
    history = [
        change(1, "open", "NEW", kind=StageChange.Kind.CREATED),
        change(2, "lost", "JUNK", kind=StageChange.Kind.CLOSED),
        change(4, "open", "IN_PROCESS"),
    ]
    facts = facts_new()
    row = deal_row(semantic="lost", closed_at=at(2), modified_at=at(9), moved_at=at(4))
    owner_facts("lead", row, history, MSK, facts)

    # Open from the 1st to the 2nd and from the 4th until the modification on the 9th.
    assert {day: v[0] for day, v in metric_totals(facts, "lead_in_work").items()} == {
        1: 1, 2: -1, 4: 1, 9: -1,
    }  # fmt: skip


def test_a_reopening_that_left_no_history_row_counts_from_the_last_modification():
    history = [
        change(1, "open", "NEW", kind=StageChange.Kind.CREATED),
        change(3, "won", "WON", kind=StageChange.Kind.CLOSED),
    ]
    facts = facts_new()
    owner_facts("deal", deal_row(semantic="open", closed_at=None), history, MSK, facts)

    assert metric_totals(facts, "deal_won") == {}
    assert {day: v[0] for day, v in metric_totals(facts, "deal_in_work").items()} == {
        1: 1, 3: -1, 9: 1,
    }  # fmt: skip


def test_a_modification_older_than_the_last_row_never_moves_a_state_back_in_time():
    history = [change(1, "open", "NEW", kind=StageChange.Kind.CREATED), change(6, "open", "C")]
    facts = facts_new()
    owner_facts("deal", deal_row(modified_at=at(5), closed_at=at(5)), history, MSK, facts)
    assert {day: v[0] for day, v in metric_totals(facts, "deal_in_work").items()} == {1: 1, 6: -1}


@pytest.mark.django_db
def test_the_mirror_dates_a_close_without_a_history_row_at_the_last_modification(portal_a):
    from integrations.mirror import deals_derived_refresh

    created, won, reopened, modified = at(1), at(3), at(5), at(9)
    deal = Deal.objects.create(
        portal=portal_a, crm_id=1, semantic="won", created_at=created, modified_at=modified,
        closed_at=won, last_touch_at=created,
    )  # fmt: skip
    for number, (semantic, when) in enumerate([("open", created), ("won", won),
                                               ("open", reopened)]):  # fmt: skip
        StageChange.objects.create(
            portal=portal_a, crm_id=str(number), entity_type="deal", owner_crm_id=1,
            kind=StageChange.Kind.CREATED if number == 0 else StageChange.Kind.MOVED,
            stage_crm_id=semantic.upper(), semantic=semantic, changed_at=when,
        )  # fmt: skip
    deals_derived_refresh(portal_a, [1])
    deal.refresh_from_db()
    assert deal.closed_at == modified  # not the earlier win that the reopening undid

    StageChange.objects.create(
        portal=portal_a, crm_id="3", entity_type="deal", owner_crm_id=1,
        kind=StageChange.Kind.CLOSED, stage_crm_id="WON", semantic="won", changed_at=at(7),
    )  # fmt: skip
    deals_derived_refresh(portal_a, [1])
    deal.refresh_from_db()
    assert deal.closed_at == at(7)  # the history agrees again: its last win
