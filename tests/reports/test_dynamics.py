from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from crmapp.models import Deal, Department, Employee, Lead, StageChange
from reports.aggregates import facts_recount, facts_stored, facts_tracking
from reports.drill import drill
from reports.dynamics import DEAL_SORTS, dynamics, month_to_date, stage_durations
from reports.efficiency import efficiency
from reports.models import NO_EMPLOYEE, NO_PIPELINE
from reports.scope import ScopeRefused, Viewer, scope_resolve

DAY = 86400


@pytest.fixture(scope="module")
def period():
    today = timezone.localdate(timezone=ZoneInfo("Europe/Moscow"))
    return today - timedelta(days=120), today


def _scope(portal, period, viewer=None, **filters):
    start, end = period
    return scope_resolve(portal, viewer or Viewer.operator(), start=start, end=end, **filters)


def _span(portal, start: date, end: date):
    zone = ZoneInfo(portal.time_zone)
    return datetime.combine(start, time.min, zone), datetime.combine(end, time.max, zone)


def _recount_durations(portal, entity_type: str, span, now: datetime) -> dict:
    """Stays in each stage straight from the StageChange rows: {(employee, pipeline, stage):
    [exits, seconds of those stays, sitting now, seconds sitting so far]}."""
    model = Deal if entity_type == "deal" else Lead
    owners = {
        row["crm_id"]: row
        for row in model.objects.for_portal(portal).values(
            "crm_id", "semantic", "responsible__crm_id",
            *(["pipeline__crm_id"] if entity_type == "deal" else []),
        )
    }  # fmt: skip
    rows = defaultdict(list)
    for change in StageChange.objects.for_portal(portal).filter(entity_type=entity_type):
        rows[change.owner_crm_id].append(change)
    cells = defaultdict(lambda: [0, 0.0, 0, 0.0])
    for owner, changes in rows.items():
        entity = owners.get(owner)
        if entity is None:
            continue
        changes.sort(key=lambda c: (c.changed_at, len(c.crm_id), c.crm_id))
        employee = entity["responsible__crm_id"] or NO_EMPLOYEE
        for entered, left in zip(changes, [*changes[1:], None], strict=True):
            pipeline = entered.pipeline_crm_id
            if pipeline is None:
                pipeline = entity.get("pipeline__crm_id")
            key = (employee, NO_PIPELINE if pipeline is None else pipeline, entered.stage_crm_id)
            if left is not None and span[0] <= left.changed_at <= span[1]:
                cells[key][0] += 1
                cells[key][1] += (left.changed_at - entered.changed_at).total_seconds()
            elif left is None and entity["semantic"] == "open" and entered.semantic == "open":
                cells[key][2] += 1
                cells[key][3] += (now - entered.changed_at).total_seconds()
    return cells


@pytest.mark.django_db
def test_stage_durations_equal_a_recount_from_the_stage_history(installed, period):
    now = timezone.now()
    history = StageChange.objects.for_portal(installed).filter(entity_type="deal")
    # The generated portal holds the hard cases: moves between pipelines, deals reopened
    # after a win, and deals sitting in their stage now.
    assert history.filter(kind=StageChange.Kind.PIPELINE_CHANGED).exists()
    reopened = {
        c.owner_crm_id for c in history.filter(semantic="open", kind=StageChange.Kind.MOVED)
    } & set(history.filter(semantic="won").values_list("owner_crm_id", flat=True))
    assert reopened
    assert Deal.objects.for_portal(installed).filter(semantic="open").exists()

    scope = _scope(installed, period)
    for entity_type in ("deal", "lead"):
        expected = _recount_durations(installed, entity_type, scope.span(), now)
        rows = stage_durations(scope, entity_type, now=now)
        got = {}
        for row in rows:
            if row["employee_id"] is None:
                continue
            key = (int(row["employee_id"]), int(row["pipeline_id"] or NO_PIPELINE), row["stage_id"])
            got[key] = row
        wanted = {key: cell for key, cell in expected.items() if cell[0] or cell[2]}
        assert set(got) == set(wanted), entity_type
        for key, (exits, seconds, sitting, so_far) in wanted.items():
            row = got[key]
            assert row["exits"] == exits, key
            assert row["now"] == sitting, key
            if exits:
                assert row["mean_days"] == pytest.approx(seconds / exits / DAY, abs=0.01)
            if sitting:
                assert row["now_mean_days"] == pytest.approx(so_far / sitting / DAY, abs=0.02)
        # A total row per stage sums its employees.
        totals = [row for row in rows if row["employee_id"] is None]
        assert sum(row["exits"] for row in totals) == sum(c[0] for c in wanted.values())
        assert sum(row["now"] for row in totals) == sum(c[2] for c in wanted.values())


@pytest.mark.django_db
def test_stage_durations_list_only_those_taking_part_and_total_everyone(installed, period):
    from reports.models import ReportSettings

    scope = _scope(installed, period)
    now = timezone.now()
    before = stage_durations(scope, "deal", now=now)
    people = sorted({int(row["employee_id"]) for row in before if row["employee_id"]})
    chosen = ReportSettings.of(installed)
    chosen.participant_employees = people[:2]
    chosen.save()
    after = stage_durations(scope, "deal", now=now)
    assert {int(row["employee_id"]) for row in after if row["employee_id"]} <= set(people[:2])
    assert _totals(after) == _totals(before)
    assert {row["employees"] for row in after if row["employee_id"] is None} <= {0, 1, 2}


def _totals(rows: list[dict]) -> list[dict]:
    """The stages' total rows, without the count of rows they split into."""
    return [
        {key: value for key, value in row.items() if key != "employees"}
        for row in rows
        if row["employee_id"] is None
    ]


@pytest.mark.django_db
def test_stage_durations_come_as_totals_then_one_stage_at_a_time(installed, period):
    scope, now = _scope(installed, period), timezone.now()
    for entity_type in ("deal", "lead"):
        whole = stage_durations(scope, entity_type, now=now)
        totals = stage_durations(scope, entity_type, now=now, split=False)
        assert totals == [row for row in whole if row["employee_id"] is None]
        assert len(totals) >= 2
        for total in totals:
            pipeline = int(total["pipeline_id"]) if total["pipeline_id"] else NO_PIPELINE
            stage = stage_durations(
                scope, entity_type, now=now, stage=(pipeline, total["stage_id"])
            )
            split = [row for row in whole if row["stage_id"] == total["stage_id"]
                     and row["pipeline_id"] == total["pipeline_id"]]  # fmt: skip
            assert stage == split
            assert total["employees"] == len(split) - 1
    assert stage_durations(scope, "deal", now=now, stage=(NO_PIPELINE, "NO SUCH")) == []


@pytest.mark.django_db
def test_period_deals_are_created_or_closed_in_the_period_with_their_ages(installed, period):
    now = timezone.now()
    scope = _scope(installed, period)
    span = _span(installed, *period)
    deals = Deal.objects.for_portal(installed)
    expected = {
        d.crm_id: ((d.closed_at or now) - d.created_at).total_seconds() / DAY
        for d in deals
        if span[0] <= d.created_at <= span[1]
        or (d.semantic in ("won", "lost") and d.closed_at and span[0] <= d.closed_at <= span[1])
    }
    data = dynamics(scope, now=now)
    assert data["deals_total"] == len(data["deals"]) == len(expected)
    ages = {int(row["id"]): row["age_days"] for row in data["deals"]}
    assert ages == pytest.approx({k: round(v, 2) for k, v in expected.items()}, abs=0.011)
    assert [row["age_days"] for row in data["deals"]] == sorted(ages.values(), reverse=True)

    low, high = 10, 60
    filtered = dynamics(scope, now=now, age_min=low, age_max=high, sort="age_days")
    inside = {k for k, v in expected.items() if low <= v <= high}
    assert inside and len(inside) < len(expected)
    assert {int(row["id"]) for row in filtered["deals"]} == inside
    assert [row["age_days"] for row in filtered["deals"]] == sorted(
        row["age_days"] for row in filtered["deals"]
    )
    listing = drill(scope, "period_deals", now=now, options={"age_min": "10", "age_max": "60"})
    assert listing["total"] == len(listing["rows"]) == len(inside)

    # A page's first rows, picked from each part and merged, are the whole list's first rows
    # in every order (ties by CRM id, nulls last).
    for column in DEAL_SORTS:
        for sort in (column, f"-{column}"):
            whole = [row["id"] for row in dynamics(scope, now=now, sort=sort)["deals"]]
            first = [row["id"] for row in dynamics(scope, now=now, sort=sort, limit=7)["deals"]]
            assert first == whole[:7], sort


@pytest.mark.django_db
def test_stage_statistics_count_the_period_deals_where_they_are_now(installed, period):
    now = timezone.now()
    scope = _scope(installed, period)
    data = dynamics(scope, now=now)
    deals = {int(row["id"]): row for row in data["deals"]}
    mirror = Deal.objects.for_portal(installed).filter(crm_id__in=deals)
    by_stage = defaultdict(list)
    for deal in mirror.select_related("stage"):
        by_stage[deal.stage.crm_id].append(deal)
    for row in data["stages"]:
        members = by_stage.get(row["id"], [])
        assert row["count"] == len(members), row["id"]
        assert row["sum"] == pytest.approx(float(sum(d.amount for d in members)), abs=0.01)
        if members:
            mean = sum(deals[d.crm_id]["age_days"] for d in members) / len(members)
            assert row["mean_age_days"] == pytest.approx(mean, abs=0.02)
        if row["count"]:
            listing = drill(scope, "period_deals", now=now, options={"stage": row["id"]})
            assert listing["total"] == len(listing["rows"]) == row["count"]
    totals = data["stage_totals"]
    states = defaultdict(int)
    for deal in mirror:
        states["in_work" if deal.semantic == "open" else deal.semantic] += 1
    assert {key: value["count"] for key, value in totals.items()} == {
        key: states[key] for key in ("won", "lost", "in_work")
    }
    assert sum(p["count"] for p in data["stage_pipelines"]) == data["deals_total"]
    for state, value in totals.items():
        listing = drill(scope, "period_deals", now=now, options={"state": state})
        assert listing["total"] == value["count"], state


def _age_won_deals(portal, deals, days: int) -> None:
    """Make won deals older, through the aggregates' own writer (as an event would)."""
    with transaction.atomic(), facts_tracking(portal, {"deal": {d.crm_id for d in deals}}):
        for deal in deals:
            Deal.objects.for_portal(portal).filter(pk=deal.pk).update(
                created_at=deal.closed_at - timedelta(days=days)
            )
            StageChange.objects.for_portal(portal).filter(
                entity_type="deal", owner_crm_id=deal.crm_id, kind=StageChange.Kind.CREATED
            ).update(changed_at=deal.closed_at - timedelta(days=days))


@pytest.mark.django_db
def test_long_cycles_are_the_wins_after_more_than_180_days(installed):
    zone = ZoneInfo(installed.time_zone)
    today = timezone.localdate(timezone=zone)
    start = today - timedelta(days=365)
    scope = scope_resolve(installed, Viewer.operator(), start=start, end=today)
    won = Deal.objects.for_portal(installed).filter(
        semantic="won", closed_at__range=_span(installed, start, today)
    )
    picked = list(won.order_by("crm_id")[:3])
    _age_won_deals(installed, picked[:2], 200)
    _age_won_deals(installed, picked[2:], 180)  # exactly 180 days is not over 180
    long = [d for d in won if (d.closed_at - d.created_at).total_seconds() > 180 * DAY]
    assert {d.crm_id for d in long} >= {d.crm_id for d in picked[:2]}
    assert picked[2].crm_id not in {d.crm_id for d in long}
    cycles = dynamics(scope)["long_cycles"]
    assert (cycles["won"], cycles["long"]) == (won.count(), len(long))
    assert cycles["share"] == round(100 * len(long) / won.count(), 2)
    by_month = defaultdict(int)
    for deal in long:
        by_month[deal.closed_at.astimezone(zone).strftime("%Y-%m")] += 1
    assert len(cycles["months"]) == 12
    assert cycles["months"][-1]["month"] == today.strftime("%Y-%m")
    for month in cycles["months"]:
        assert month["long"] == by_month.get(month["month"], 0), month["month"]
    assert drill(scope, "long_cycles")["total"] == len(long)
    assert facts_stored(installed) == facts_recount(installed)


@pytest.mark.parametrize(
    ("today", "this", "last"),
    [
        (date(2027, 3, 1), ("2027-03-01", "2027-03-01"), ("2027-02-01", "2027-02-01")),
        (date(2027, 3, 29), ("2027-03-01", "2027-03-29"), ("2027-02-01", "2027-02-28")),
        (date(2028, 3, 29), ("2028-03-01", "2028-03-29"), ("2028-02-01", "2028-02-29")),
        (date(2027, 5, 31), ("2027-05-01", "2027-05-31"), ("2027-04-01", "2027-04-30")),
        (date(2027, 1, 31), ("2027-01-01", "2027-01-31"), ("2026-12-01", "2026-12-31")),
    ],
)
def test_this_month_so_far_compares_with_the_same_days_of_last_month(today, this, last):
    got = month_to_date(today)
    assert tuple(d.isoformat() for d in got[0]) == this
    assert tuple(d.isoformat() for d in got[1]) == last


@pytest.mark.django_db
def test_the_month_to_date_tile_counts_the_wins_of_both_spans(installed):
    now = timezone.now()
    zone = ZoneInfo(installed.time_zone)
    today = now.astimezone(zone).date()
    scope = scope_resolve(installed, Viewer.operator(), start=today, end=today)
    tile = dynamics(scope, now=now)["tiles"]["month_to_date"]
    deals = Deal.objects.for_portal(installed).filter(semantic="won")
    for prefix, (first, last) in (
        ("", month_to_date(today)[0]),
        ("last_", month_to_date(today)[1]),
    ):
        won = deals.filter(closed_at__range=_span(installed, first, last))
        assert (
            tile[f"{prefix}from"] == first.isoformat() and tile[f"{prefix}to"] == last.isoformat()
        )
        assert tile[f"{prefix}won_count"] == won.count()
        assert tile[f"{prefix}won_sum"] == pytest.approx(float(sum(d.amount for d in won)))


@pytest.mark.django_db
def test_tiles_months_and_employees_agree_with_the_efficiency_report(installed, period):
    now = timezone.now()
    scope = _scope(installed, period)
    data = dynamics(scope, now=now)
    totals = efficiency(scope)["totals"]
    tiles = data["tiles"]
    assert tiles["won_count"] == totals["won_count"]
    assert tiles["new_sales"] + tiles["repeat_sales"] == tiles["won_count"]
    assert drill(scope, "repeat_sales")["total"] == tiles["repeat_sales"]
    assert drill(scope, "converted_leads", now=now)["total"] == tiles["leads_converted"]
    assert drill(scope, "created_leads", now=now)["total"] == tiles["leads_received"]
    assert drill(scope, "forgotten_deals", now=now)["total"] == tiles["forgotten_deals"]
    assert sum(row["won_count"] for row in data["employees"]) == totals["won_count"]
    # A month's wins straight from the mirror; the year before beside it.
    won = Deal.objects.for_portal(installed).filter(semantic="won")
    for row in data["months"][-3:]:
        first = date.fromisoformat(row["month"] + "-01")
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        assert (
            row["won_count"] == won.filter(closed_at__range=_span(installed, first, last)).count()
        )
    assert len(data["months"]) == 12
    assert data["months"][-1]["month"] == scope.end.strftime("%Y-%m")
    assert [row["year"] for row in data["years"]] == [
        str(scope.end.year - 2),
        str(scope.end.year - 1),
        str(scope.end.year),
    ]
    this_year = data["years"][-1]
    first = date(scope.end.year, 1, 1)
    assert (
        this_year["won_count"]
        == won.filter(
            closed_at__range=_span(installed, first, date(scope.end.year, 12, 31))
        ).count()
    )


@pytest.mark.django_db
def test_a_duration_cell_drills_to_its_stays_and_sitting_entities(installed, period):
    now = timezone.now()
    scope = _scope(installed, period)
    rows = dynamics(scope, now=now)["durations"]
    checked = 0
    for entity_type, entity_rows in rows.items():
        for row in [r for r in entity_rows if r["employee_id"] is not None][:6]:
            cell = _scope(installed, period, employee=int(row["employee_id"]))
            options = {"entity": entity_type, "stage": row["stage_id"]}
            exits = drill(cell, "stage_exits", now=now, options=options)
            sitting = drill(cell, "stage_now", now=now, options=options)
            assert exits["total"] == len(exits["rows"]) == row["exits"]
            assert sitting["total"] == len(sitting["rows"]) == row["now"]
            if row["exits"]:
                mean = sum(r["days"] for r in exits["rows"]) / row["exits"]
                assert mean == pytest.approx(row["mean_days"], abs=0.02)
            checked += 1
    assert checked


@pytest.mark.django_db
def test_a_manager_sees_only_his_rows_and_a_head_his_department(installed, period):
    departments = Department.objects.for_portal(installed)
    department = departments.filter(employees__isnull=False).exclude(
        crm_id__in=departments.filter(parent__isnull=False).values("parent__crm_id")
    )[0]  # a department without sub-departments
    staff = set(
        Employee.objects.for_portal(installed)
        .filter(department=department)
        .values_list("crm_id", flat=True)
    )
    manager = sorted(staff)[0]
    now = timezone.now()
    mine = dynamics(_scope(installed, period, Viewer(Viewer.MANAGER, manager)), now=now)
    assert {row["id"] for row in mine["employees"]} <= {str(manager)}
    names = Employee.objects.for_portal(installed).get(crm_id=manager).name
    assert {row["responsible"] for row in mine["deals"]} <= {names}
    for entity_rows in mine["durations"].values():
        assert {r["employee_id"] for r in entity_rows} <= {str(manager), None}
    owned = Deal.objects.for_portal(installed).filter(responsible__crm_id=manager)
    assert mine["deals_total"] <= owned.count()

    head = Viewer(Viewer.HEAD, manager, [department.crm_id])
    theirs = dynamics(_scope(installed, period, head), now=now)
    allowed = {str(i) for i in _scope(installed, period, head).employees}
    assert {row["id"] for row in theirs["employees"]} <= allowed
    for entity_rows in theirs["durations"].values():
        assert {r["employee_id"] for r in entity_rows} <= allowed | {None}
    other = Employee.objects.for_portal(installed).exclude(crm_id__in=map(int, allowed))[0]
    with pytest.raises(ScopeRefused):
        _scope(installed, period, Viewer(Viewer.MANAGER, manager), employee=other.crm_id)


@pytest.mark.django_db
def test_the_cli_prints_the_dynamics_json(installed, period):
    start, end = period
    out = StringIO()
    call_command("report", "dynamics", "--portal", installed.key, "--from", start.isoformat(),
                 "--to", end.isoformat(), "--format", "json", stdout=out)  # fmt: skip
    printed = json.loads(out.getvalue())
    assert {"tiles", "months", "employees", "deals", "stages", "long_cycles", "durations"} <= set(
        printed
    )
    assert set(printed["months"][0]) == {
        "month",
        "won_count",
        "won_sum",
        "won_count_year_before",
        "won_sum_year_before",
    }
    assert set(printed["deals"][0]) == {
        "id",
        "title",
        "responsible",
        "pipeline",
        "stage",
        "amount",
        "created",
        "closed",
        "age_days",
    }
    assert {"pipeline", "id", "name", "count", "sum", "mean_age_days"} <= set(printed["stages"][0])
    assert {"employee", "pipeline", "stage", "exits", "mean_days", "now", "now_mean_days"} <= set(
        printed["durations"]["deal"][0]
    )
    expected = dynamics(scope_resolve(installed, Viewer.operator(), start=start, end=end))
    # "Days there so far" moves with the clock; everything else is the same data.
    for kind in ("deal", "lead"):
        assert [{**r, "now_mean_days": 0} for r in printed["durations"][kind]] == [
            {**r, "now_mean_days": 0} for r in json.loads(json.dumps(expected["durations"][kind]))
        ]
    assert printed["deals_total"] == expected["deals_total"]
    assert printed["stages"] == json.loads(json.dumps(expected["stages"]))
