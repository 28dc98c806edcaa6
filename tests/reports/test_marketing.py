from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import timezone

from crmapp.models import Activity, Deal, Lead, Stage, StageChange
from reports.marketing import marketing, source_calls
from reports.marketing_drill import marketing_drill
from reports.scope import Viewer, scope_resolve

ROW_KEYS = {"id", "name", "received", "new", "in_work", "qualified", "unqualified", "closed",
            "converted", "conversion", "processing_days", "won_count", "won_sum",
            "cohort_revenue", "spend", "cost_per_lead", "romi", "roi"}  # fmt: skip


@pytest.fixture(scope="module")
def period():
    today = timezone.localdate(timezone=ZoneInfo("Europe/Moscow"))
    return today - timedelta(days=120), today


def _span(portal, start: date, end: date):
    zone = ZoneInfo(portal.time_zone)
    return datetime.combine(start, time.min, zone), datetime.combine(end, time.max, zone)


def _expected_by_source(portal, start, end, *, leads=None, deals=None) -> dict[str, Counter]:
    """Each figure counted lead by lead and deal by deal from the mirror, by source."""
    span = _span(portal, start, end)
    leads = leads if leads is not None else Lead.objects.for_portal(portal)
    deals = deals if deals is not None else Deal.objects.for_portal(portal)
    first = (
        Stage.objects.for_portal(portal)
        .filter(entity_type="lead", semantic="open")
        .order_by("sort", "id")
        .first()
    )
    expected: dict[str, Counter] = defaultdict(Counter)
    received_source = {}
    for lead in leads:
        counted = expected[lead.source]
        if span[0] <= lead.created_at <= span[1]:
            received_source[lead.crm_id] = lead.source
            counted["received"] += 1
            if lead.semantic == "won":
                counted["qualified"] += 1
            elif lead.semantic == "lost":
                counted["unqualified"] += 1
            elif lead.status_id == first.pk:
                counted["new"] += 1
            else:
                counted["in_work"] += 1
        if lead.semantic in ("won", "lost") and span[0] <= lead.closed_at <= span[1]:
            counted["closed"] += 1
            counted["converted"] += lead.semantic == "won"
            counted["seconds"] += (lead.closed_at - lead.created_at).total_seconds()
    for deal in deals:
        if deal.semantic == "won" and span[0] <= deal.closed_at <= span[1]:
            expected[deal.source]["won_count"] += 1
            expected[deal.source]["won_cents"] += int(deal.amount * 100)
        if deal.semantic == "won" and deal.lead_crm_id in received_source:
            expected[received_source[deal.lead_crm_id]]["cohort_cents"] += int(deal.amount * 100)
    return {source: counted for source, counted in expected.items() if any(counted.values())}


def _assert_rows_match(rows: list[dict], expected: dict[str, Counter]) -> None:
    by_id = {row["id"]: row for row in rows}
    assert set(by_id) == set(expected)
    for source, counted in expected.items():
        row = by_id[source]
        for key in ("received", "new", "in_work", "qualified", "unqualified", "closed",
                    "converted", "won_count"):  # fmt: skip
            assert row[key] == counted[key], (source, key)
        assert row["won_sum"] == pytest.approx(counted["won_cents"] / 100)
        assert row["cohort_revenue"] == pytest.approx(counted["cohort_cents"] / 100)
        closed = counted["closed"]
        assert row["conversion"] == (
            round(100 * counted["converted"] / closed, 2) if closed else None
        )
        if closed:
            assert row["processing_days"] == pytest.approx(
                counted["seconds"] / 86400 / closed, abs=0.01
            )
        else:
            assert row["processing_days"] is None


@pytest.mark.django_db
def test_every_figure_by_source_equals_a_count_straight_from_the_mirror(installed, period):
    start, end = period
    report = marketing(scope_resolve(installed, Viewer.operator(), start=start, end=end))
    expected = _expected_by_source(installed, start, end)
    assert len(expected) > 3  # the generated portal has several sources, each with leads
    _assert_rows_match(report["sources"], expected)
    assert all(set(row) == ROW_KEYS for row in report["sources"])
    totals = report["totals"]
    for key in ("received", "closed", "converted", "won_count", "qualified"):
        assert totals[key] == sum(counted[key] for counted in expected.values())
    assert report["funnel"]["received"] == totals["received"]
    assert report["funnel"]["converted"] == totals["qualified"]
    assert report["funnel"]["won_sum"] == pytest.approx(totals["cohort_revenue"])
    # The months of each source add up to its row.
    months = defaultdict(Counter)
    for row in report["months"]:
        months[row["id"]]["received"] += row["received"]
        months[row["id"]]["won_count"] += row["won_count"]
    for row in report["sources"]:
        assert months[row["id"]]["received"] == row["received"]
        assert months[row["id"]]["won_count"] == row["won_count"]
    # No spend entered: ROMI and ROI have no denominator.
    assert totals["spend"] == 0 and totals["romi"] is None and totals["roi"] is None


@pytest.mark.django_db
def test_drill_lists_are_as_long_as_their_numbers(installed, period):
    start, end = period
    scope = scope_resolve(installed, Viewer.operator(), start=start, end=end)
    report = marketing(scope)
    for key in ("received", "new", "in_work", "qualified", "unqualified", "closed",
                "converted", "won_count"):  # fmt: skip
        assert marketing_drill(scope, key)["total"] == report["totals"][key], key
    cohort = marketing_drill(scope, "cohort_revenue")
    assert sum(row["amount"] for row in cohort["rows"]) == pytest.approx(
        report["totals"]["cohort_revenue"]
    )
    assert cohort["total"] == report["funnel"]["won_count"]
    calls = sum(row["calls"] for row in report["calls"])
    assert marketing_drill(scope, "calls")["total"] == calls
    for stage in report["stages"]:
        assert marketing_drill(scope, f"reached:{stage['id']}")["total"] == stage["reached"]
    # A source row's list is the same list with the source filter set to that source.
    row = report["sources"][0]
    one = scope_resolve(installed, Viewer.operator(), start=start, end=end, sources=(row["id"],))
    assert marketing_drill(one, "received")["total"] == row["received"]
    assert marketing_drill(one, "won_count")["total"] == row["won_count"]
    page = marketing_drill(scope, "received", limit=5, offset=3)
    assert page["total"] == report["totals"]["received"] and len(page["rows"]) == 5


@pytest.mark.django_db
def test_the_source_and_utm_filters_select_leads_and_deals_by_their_own_fields(installed, period):
    start, end = period
    everything = marketing(scope_resolve(installed, Viewer.operator(), start=start, end=end))
    picked = [row["id"] for row in everything["sources"][:2]]
    scope = scope_resolve(installed, Viewer.operator(), start=start, end=end, sources=tuple(picked))
    report = marketing(scope)
    assert {row["id"] for row in report["sources"]} == set(picked)
    leads = Lead.objects.for_portal(installed).filter(source__in=picked)
    deals = Deal.objects.for_portal(installed).filter(source__in=picked)
    expected = _expected_by_source(installed, start, end, leads=leads, deals=deals)
    _assert_rows_match(report["sources"], expected)

    utm = next(row for row in everything["utm"] if row["level"] == 1 and row["utm_source"])
    scope = scope_resolve(
        installed, Viewer.operator(), start=start, end=end, utm_source=utm["utm_source"]
    )
    report = marketing(scope)
    leads = Lead.objects.for_portal(installed).filter(utm_source=utm["utm_source"])
    deals = Deal.objects.for_portal(installed).filter(utm_source=utm["utm_source"])
    expected = _expected_by_source(installed, start, end, leads=leads, deals=deals)
    _assert_rows_match(report["sources"], expected)
    assert report["totals"]["received"] == utm["received"]
    assert report["totals"]["won_count"] == utm["won_count"]
    # "-" selects the leads without a source.
    none = marketing(scope_resolve(installed, Viewer.operator(), start=start, end=end,
                                   sources=("-",)))  # fmt: skip
    assert {row["id"] for row in none["sources"]} <= {""}


@pytest.mark.django_db
def test_utm_tree_levels_add_up_and_stage_reach_counts_every_received_lead(installed, period):
    start, end = period
    report = marketing(scope_resolve(installed, Viewer.operator(), start=start, end=end))
    top = [row for row in report["utm"] if row["level"] == 1]
    assert sum(row["received"] for row in top) == report["totals"]["received"]
    for parent in top:
        children = [row for row in report["utm"] if row["level"] == 2
                    and row["utm_source"] == parent["utm_source"]]  # fmt: skip
        assert sum(row["received"] for row in children) == parent["received"]
    received = Lead.objects.for_portal(installed).filter(
        created_at__range=_span(installed, start, end)
    )
    ids = set(received.values_list("crm_id", flat=True))
    ever = defaultdict(set)
    for owner, stage in (
        StageChange.objects.for_portal(installed)
        .filter(entity_type="lead", owner_crm_id__in=ids)
        .values_list("owner_crm_id", "stage_crm_id")
    ):
        ever[stage].add(owner)
    for lead_id, status in received.values_list("crm_id", "status__crm_id"):
        ever[status].add(lead_id)
    for stage in report["stages"]:
        assert stage["reached"] >= len(ever[stage["id"]])
    assert report["stages"][0]["reached"] == len(ids)  # every lead starts in the first status
    matrix = report["matrix"]
    assert sum(row["total"] for row in matrix["employees"]) == len(ids)
    assert report["leads_total"] == len(ids) == len(report["leads"])
    calls = Activity.objects.for_portal(installed).filter(
        kind="call", completed=True, completed_at__range=_span(installed, start, end)
    )
    bound = calls.filter(owner_type__in=("lead", "deal")).count()
    assert 0 < sum(row["calls"] for row in report["calls"]) <= bound


@pytest.mark.django_db
def test_a_manager_sees_his_own_leads_only(installed, period):
    start, end = period
    manager = (
        Lead.objects.for_portal(installed)
        .filter(created_at__range=_span(installed, start, end), responsible__isnull=False)
        .values_list("responsible__crm_id", flat=True)
        .first()
    )
    scope = scope_resolve(installed, Viewer(Viewer.MANAGER, manager), start=start, end=end)
    report = marketing(scope)
    leads = Lead.objects.for_portal(installed).filter(responsible__crm_id=manager)
    deals = Deal.objects.for_portal(installed).filter(responsible__crm_id=manager)
    expected = _expected_by_source(installed, start, end, leads=leads, deals=deals)
    _assert_rows_match(report["sources"], expected)
    assert {row["id"] for row in report["matrix"]["employees"]} == {str(manager)}
    listed = marketing_drill(scope, "received")
    own = set(leads.values_list("title", flat=True))
    assert listed["total"] == report["totals"]["received"]
    assert {row["title"] for row in listed["rows"]} <= own


@pytest.mark.django_db
def test_the_cli_prints_the_report_in_reports_md_shape(installed, period):
    start, end = period
    source = marketing(scope_resolve(installed, Viewer.operator(), start=start, end=end))[
        "sources"
    ][0]["id"]
    out = StringIO()
    call_command("report", "marketing", "--portal", installed.key, "--from", start.isoformat(),
                 "--to", end.isoformat(), "--source", source or "-", "--format", "json",
                 stdout=out)  # fmt: skip
    printed = json.loads(out.getvalue())
    scope = scope_resolve(installed, Viewer.operator(), start=start, end=end,
                          sources=(source or "-",))  # fmt: skip
    assert printed == json.loads(json.dumps(marketing(scope), default=str))
    assert {"sources", "totals", "utm", "stages", "funnel", "leads"} <= set(printed)
    assert set(printed["totals"]) == ROW_KEYS - {"id", "name"}
    assert set(printed["funnel"]) == {"received", "converted", "won_count", "won_sum"}
    assert {"id", "name", "reached", "share"} == set(printed["stages"][0])
    assert {"id", "title", "source", "responsible", "status", "status_days", "idle_days",
            "no_next_step"} <= set(printed["leads"][0])  # fmt: skip
    assert {"utm_source", "utm_medium", "utm_campaign"} <= set(printed["utm"][0])


@pytest.mark.django_db
def test_calls_count_by_the_month_and_the_source_of_the_lead_or_deal_they_are_bound_to(
    installed, period
):
    start, end = period
    scope = scope_resolve(installed, Viewer.operator(), start=start, end=end)
    zone = ZoneInfo(installed.time_zone)
    sources = {kind: dict(model.objects.for_portal(installed).values_list("crm_id", "source"))
               for kind, model in (("lead", Lead), ("deal", Deal))}  # fmt: skip
    expected: Counter = Counter()
    for kind, owner, completed in source_calls(scope).values_list(
        "owner_type", "owner_crm_id", "completed_at"
    ):
        expected[(completed.astimezone(zone).strftime("%Y-%m"), sources[kind][owner])] += 1
    rows = marketing(scope)["calls"]
    assert {(row["month"], row["id"]): row["calls"] for row in rows} == expected
    assert len(expected) > 1
