from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from io import BytesIO, StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import timezone, translation
from openpyxl import load_workbook

from crmapp.models import Deal, Department, Employee
from reports.models import ALL_PIPELINES, Plan, PlanChange
from reports.plan_bonus import bonus_earned, bonus_rule_set
from reports.plan_dynamics import plan_dynamics
from reports.plan_edit import plan_import, plan_month_copy, plan_row_fill, plan_set
from reports.plan_grid import plan_grid
from reports.plan_input import (
    Cell,
    PlanError,
    month_add,
    plan_cell_check,
    plan_month_parse,
    plan_value_parse,
)
from reports.plan_period import plan_period
from reports.plan_report import plan
from reports.plan_today import plan_today, working_days
from reports.plan_xlsx import plan_xlsx, plan_xlsx_read
from reports.scope import Viewer, plan_rights, scope_resolve
from reports.tv_links import tv_link_create, tv_link_portal, tv_link_revoke


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def _today(portal) -> date:
    return timezone.now().astimezone(ZoneInfo(portal.time_zone)).date()


def _month_span(portal, month: date):
    zone = ZoneInfo(portal.time_zone)
    last = month_add(month, 1) - timedelta(days=1)
    return datetime.combine(month, time.min, zone), datetime.combine(last, time.max, zone)


def _set(portal, month, level, target, metric, value, pipeline=ALL_PIPELINES, by=1):
    cell = Cell(month, level, target, pipeline, metric)
    return plan_set(portal, cell=cell, value=value, by=by, now=timezone.now())


def test_it_reads_plan_values_people_type():
    assert plan_value_parse("won_sum", "1 500 000,50") == 150_000_050
    assert plan_value_parse("won_sum", "\u00a0200\u00a0000") == 20_000_000
    assert plan_value_parse("won_count", "12") == 12
    assert plan_value_parse("won_sum", "") is None
    for metric, typed, words in [
        ("won_sum", "-5", "negative"),
        ("won_sum", "abc", "number"),
        ("won_sum", "1.005", "two decimals"),
        ("won_count", "2.5", "whole"),
        ("won_sum", "nan", "number"),
        ("won_sum", "1e30", "too large"),
    ]:
        with pytest.raises(PlanError, match=words):
            plan_value_parse(metric, typed)


@pytest.mark.django_db
def test_it_allows_months_from_the_tiers_history_to_a_year_ahead(make_portal):
    now = timezone.now()
    portal = make_portal(trial_started_at=now - timedelta(days=30))  # basic: 3 months
    this_month = _today(portal).replace(day=1)
    assert plan_month_parse(portal, this_month.strftime("%Y-%m"), now=now) == this_month
    assert plan_month_parse(portal, month_add(this_month, 12).strftime("%Y-%m"), now=now)
    for month in (month_add(this_month, 13), month_add(this_month, -4)):
        with pytest.raises(PlanError, match="Plans can be set"):
            plan_month_parse(portal, month.strftime("%Y-%m"), now=now)
    with pytest.raises(PlanError, match="2026-03"):
        plan_month_parse(portal, "March", now=now)


def test_the_bonus_follows_the_rules_at_the_boundaries():
    from reports.models import BonusRule

    rule = BonusRule(
        metric="won_count",
        min_completion=Decimal("80"),
        tiers=[{"reach": 8, "bonus": 500_00}, {"reach": 10, "bonus": 1000_00}],
    )
    assert bonus_earned(rule, plan=10, fact=7) == 0  # 70% < 80%
    assert bonus_earned(rule, plan=10, fact=8) == 500_00  # exactly 80% and the first tier
    assert bonus_earned(rule, plan=10, fact=9) == 500_00
    assert bonus_earned(rule, plan=10, fact=10) == 1000_00  # exactly the top tier
    assert bonus_earned(rule, plan=20, fact=15) == 0  # a tier reached but 75% < 80%
    assert bonus_earned(rule, plan=20, fact=16) == 1000_00
    assert bonus_earned(rule, plan=None, fact=50) is None
    assert bonus_earned(None, plan=10, fact=10) is None
    fractional = BonusRule(
        metric="won_sum", min_completion=Decimal("80.5"), tiers=[{"reach": 0, "bonus": 1}]
    )
    assert bonus_earned(fractional, plan=1000, fact=804) == 0
    assert bonus_earned(fractional, plan=1000, fact=805) == 1
    # Thresholds in % of the plan (hundredths): 182 % of plan reaches the 150 % tier.
    percent = BonusRule(
        metric="won_sum", min_completion=Decimal("80"), reach_unit="percent",
        tiers=[{"reach": 100_00, "bonus": 10}, {"reach": 150_00, "bonus": 20}],
    )  # fmt: skip
    assert bonus_earned(percent, plan=1000, fact=1820) == 20
    assert bonus_earned(percent, plan=1000, fact=1499) == 10
    assert bonus_earned(percent, plan=1000, fact=999) == 0
    assert bonus_earned(percent, plan=3, fact=3) == 10  # exactly 100 %, no rounding


@pytest.mark.django_db
def test_plan_vs_fact_equals_the_mirror_with_department_defaults_repeat_sales_and_bonus(
    installed,
):
    portal = installed
    month = _today(portal).replace(day=1)
    previous = month_add(month, -1)
    start, end = previous, month_add(month, 1) - timedelta(days=1)
    deals = Deal.objects.for_portal(portal).filter(semantic="won")
    won = Counter(
        deals.filter(closed_at__range=_month_span(portal, previous)).values_list(
            "responsible__crm_id", flat=True
        )
    )
    seller = max(won, key=won.get)
    employee = Employee.objects.for_portal(portal).select_related("department").get(crm_id=seller)
    department = employee.department
    colleague = (
        Employee.objects.for_portal(portal)
        .filter(department=department)
        .exclude(crm_id=seller)
        .first()
    )
    _set(portal, previous, "employee", seller, "won_count", 10)
    _set(portal, previous, "employee", seller, "won_sum", 1_000_000_00)
    if colleague:
        _set(portal, previous, "employee", colleague.crm_id, "won_count", 5)
    bonus_rule_set(
        portal,
        metric="won_count",
        min_completion=Decimal("0"),
        tiers=[(1, 100_00), (won[seller], 700_00), (won[seller] + 1, 900_00)],
        by=1,
        now=timezone.now(),
    )

    report = plan(scope_resolve(portal, Viewer.operator(), start=start, end=end))
    assert set(report) == {"report", "from", "to", "rows"}
    rows = {
        (r["month"], r["level"], r["id"], r["pipeline_id"], r["metric"]): r for r in report["rows"]
    }
    label = previous.strftime("%Y-%m")
    row = rows[(label, "employee", str(seller), None, "won_count")]
    assert row["plan"] == 10 and row["fact"] == won[seller]
    assert row["completion"] == round(100 * won[seller] / 10, 2)
    assert row["remaining"] == max(10 - won[seller], 0)
    assert row["bonus"] == 700.0  # the highest tier reached, not the next
    won_sum = rows[(label, "employee", str(seller), None, "won_sum")]
    amounts = deals.filter(
        responsible__crm_id=seller, closed_at__range=_month_span(portal, previous)
    ).values_list("amount", flat=True)
    assert won_sum["fact"] == pytest.approx(float(sum(amounts)))
    assert won_sum["plan"] == 1_000_000.0 and won_sum["bonus"] is None  # no rule for the sum

    # Per pipeline: the pipelines' facts add up to the all-pipelines fact.
    by_pipeline = [
        r
        for k, r in rows.items()
        if k[:3] == (label, "employee", str(seller)) and k[3] is not None and k[4] == "won_count"
    ]
    assert sum(r["fact"] for r in by_pipeline) == row["fact"]

    # A department plans the sum of its employees unless it is set explicitly.
    department_row = rows[(label, "department", str(department.crm_id), None, "won_count")]
    assert department_row["plan"] == 10 + (5 if colleague else 0)
    _set(portal, previous, "department", department.crm_id, "won_count", 40)
    report = plan(scope_resolve(portal, Viewer.operator(), start=start, end=end))
    rows = {
        (r["month"], r["level"], r["id"], r["pipeline_id"], r["metric"]): r for r in report["rows"]
    }
    assert rows[(label, "department", str(department.crm_id), None, "won_count")]["plan"] == 40

    # Repeat sales: a won deal whose company (else contact) had an earlier won deal.
    scope = scope_resolve(portal, Viewer.operator(), start=previous, end=end)
    expected_repeat = 0
    for deal in deals.filter(closed_at__range=scope.span()):
        field = "company_crm_id" if deal.company_crm_id else "contact_crm_id"
        customer = getattr(deal, field)
        if customer and deals.filter(**{field: customer}, closed_at__lt=deal.closed_at).exists():
            expected_repeat += 1
    table = plan_period(scope, "won_count")
    assert table["totals"]["repeat_count"] == expected_repeat
    assert table["totals"]["fact"] == deals.filter(closed_at__range=scope.span()).count()
    assert table["totals"]["new_count"] + expected_repeat == table["totals"]["fact"]

    dynamics = plan_dynamics(scope, "won_count")
    assert dynamics["periods"] == [previous.strftime("%Y-%m"), month.strftime("%Y-%m")]
    assert dynamics["fact"][0] == sum(won.values())


@pytest.mark.django_db
def test_activity_plan_metrics_count_as_the_mirror_and_every_employee_has_every_metric(installed):
    """Deals created, completed calls and meetings: last month's fact per employee equals a
    count straight from the mirror, with a row for every metric whether planned or not."""
    from crmapp.models import Activity

    portal = installed
    previous = month_add(_today(portal).replace(day=1), -1)
    span = _month_span(portal, previous)
    created = Counter(Deal.objects.for_portal(portal).filter(created_at__range=span)
                      .values_list("responsible__crm_id", flat=True))  # fmt: skip
    done = Activity.objects.for_portal(portal).filter(completed=True, completed_at__range=span)
    calls = Counter(done.filter(kind="call").values_list("responsible__crm_id", flat=True))
    meetings = Counter(done.filter(kind="meeting").values_list("responsible__crm_id", flat=True))
    caller = max(calls, key=calls.get)
    _set(portal, previous, "employee", caller, "calls", 40)
    with pytest.raises(PlanError):  # calls belong to no pipeline
        plan_cell_check(portal, plan_rights(portal, Viewer.operator()), month=previous,
                        level="employee", target=caller, pipeline=0, metric="calls")  # fmt: skip

    last = month_add(previous, 1) - timedelta(days=1)
    report = plan(scope_resolve(portal, Viewer.operator(), start=previous, end=last))
    rows = {(r["level"], r["id"], r["metric"]): r for r in report["rows"]
            if r["pipeline_id"] is None}  # fmt: skip
    employees = {i for level, i, _m in rows if level == "employee"}
    for employee in employees:
        crm_id = int(employee)
        for metric, expected in (("deals_created", created), ("calls", calls),
                                 ("meetings", meetings)):  # fmt: skip
            row = rows[("employee", employee, metric)]
            assert row["fact"] == expected.get(crm_id, 0), (metric, employee)
            assert row["plan"] is None or (crm_id, metric) == (caller, "calls")
            assert row["bonus"] is None
        assert {m for level, i, m in rows if i == employee} == {
            "won_sum", "won_count", "deals_created", "calls", "meetings", "stage_reached",
        }  # fmt: skip
    planned = rows[("employee", str(caller), "calls")]
    assert planned["plan"] == 40
    assert planned["completion"] == round(100 * calls[caller] / 40, 2)
    today = plan_today(scope_resolve(portal, Viewer.operator(), start=previous, end=last,
                                     employee=caller), "calls", today=last)  # fmt: skip
    assert today["employees"][0]["day_plan"] == round(40 / len(working_days(previous)), 2)


@pytest.mark.django_db
def test_activity_plans_are_suggested_from_the_won_plan_and_the_sellers_own_ratios(installed):
    from crmapp.models import Activity
    from reports.plan_suggest import plan_suggest, plan_suggest_save

    portal, now = installed, timezone.now()
    this_month = _today(portal).replace(day=1)
    first, last = month_add(this_month, -3), this_month - timedelta(days=1)
    span = (_month_span(portal, first)[0], _month_span(portal, month_add(this_month, -1))[1])
    won = Counter(Deal.objects.for_portal(portal).filter(semantic="won", closed_at__range=span)
                  .values_list("responsible__crm_id", flat=True))  # fmt: skip
    seller = max(won, key=won.get)
    created = Deal.objects.for_portal(portal).filter(
        responsible__crm_id=seller, created_at__range=span).count()  # fmt: skip
    calls = (
        Activity.objects.for_portal(portal)
        .filter(responsible__crm_id=seller, kind="call", completed=True, completed_at__range=span)
        .count()
    )
    _set(portal, this_month, "employee", seller, "won_count", 7)
    rights = plan_rights(portal, Viewer.operator())

    suggestion = plan_suggest(portal, month=this_month, rights=rights, now=now)
    assert (suggestion["from"], suggestion["to"]) == (first, last)
    (row,) = suggestion["rows"]  # only the employee with a won-count plan
    assert (row["id"], row["won_plan"], row["won"]) == (seller, 7, won[seller])
    by_metric = {item["metric"]: item for item in row["metrics"]}
    assert by_metric["deals_created"]["per_won"] == round(created / won[seller], 2)
    assert by_metric["deals_created"]["proposed"] == -(-7 * created // won[seller])  # ceil
    assert by_metric["calls"]["proposed"] == -(-7 * calls // won[seller])

    edited = {(seller, "calls"): 123, (seller, "deals_created"): by_metric["deals_created"]
              ["proposed"]}  # fmt: skip
    assert plan_suggest_save(portal, month=this_month, values=edited, rights=rights, by=1,
                             now=now) == 2  # fmt: skip
    stored = dict(Plan.objects.for_portal(portal).filter(month=this_month, target_crm_id=seller)
                  .values_list("metric", "value"))  # fmt: skip
    assert stored["calls"] == 123 and stored["won_count"] == 7
    again = plan_suggest(portal, month=this_month, rights=rights, now=now)["rows"][0]
    assert {i["metric"]: i["current"] for i in again["metrics"]}["calls"] == 123


@pytest.mark.django_db
def test_todays_pace_compares_the_fact_with_the_working_days_gone(installed):
    """Last month, seen on its 2nd working day (no pace yet: one good day is not a pace)
    and on its 10th (the fact so far against the plan of the days gone)."""
    portal = installed
    month = month_add(_today(portal).replace(day=1), -1)
    seller = Employee.objects.for_portal(portal).filter(active=True).first().crm_id
    days = working_days(month)
    _set(portal, month, "employee", seller, "won_count", len(days) * 2)
    for elapsed in (2, 10):
        today = days[elapsed - 1]
        scope = scope_resolve(portal, Viewer.operator(), start=month, end=today, employee=seller)
        view = plan_today(scope, "won_count", today=today)
        row = view["employees"][0]
        assert row["day_plan"] == 2
        assert view["elapsed_working_days"] == elapsed
        fact = (
            Deal.objects.for_portal(portal)
            .filter(semantic="won", responsible__crm_id=seller, closed_at__range=scope.span())
            .count()
        )
        assert row["fact"] == fact
        expected = round(100 * fact / (2 * elapsed), 2) if elapsed >= 3 else None
        assert row["pace"] == view["totals"]["pace"] == expected


@pytest.mark.django_db
def test_completion_of_a_partial_plan_counts_the_fact_of_those_with_a_plan(portal_a):
    """One of two sellers has a plan: the company total is not his plan against both
    sellers' sales (that read 2 240 %), it says which fact it counts."""
    from reports.aggregates import facts_rebuild

    department = Department.objects.create(portal=portal_a, crm_id=1, name="Продажи", sort=1)
    for crm_id in (11, 12):
        Employee.objects.create(
            portal=portal_a, crm_id=crm_id, name=f"M{crm_id}", department=department
        )
    month = month_add(_today(portal_a).replace(day=1), -1)
    zone = ZoneInfo(portal_a.time_zone)
    for crm_id, (seller, amount, day) in enumerate(
        [(11, 100, 3), (12, 1000, 4), (12, 1000, 5), (12, 1000, 6)], start=1
    ):
        closed = datetime.combine(month + timedelta(days=day), time(12), zone)
        Deal.objects.create(
            portal=portal_a, crm_id=crm_id, semantic="won", amount=amount, created_at=closed,
            modified_at=closed, closed_at=closed, last_touch_at=closed,
            responsible=Employee.objects.for_portal(portal_a).get(crm_id=seller),
        )  # fmt: skip
    facts_rebuild(portal_a)
    _set(portal_a, month, "employee", 11, "won_sum", 200_00)
    last = month_add(month, 1) - timedelta(days=1)
    scope = scope_resolve(portal_a, Viewer.operator(), start=month, end=last)
    table = plan_period(scope, "won_sum")
    seller = table["departments"][0]["employees"][0]
    assert (seller["plan"], seller["fact"], seller["completion"]) == (200.0, 100.0, 50.0)
    assert seller["planned_fact"] is None
    for total in (table["departments"][0], table["totals"]):
        assert (total["plan"], total["fact"], total["completion"]) == (200.0, 3100.0, 50.0)
        assert (total["planned_fact"], total["remaining"]) == (100.0, 100.0)
    _set(portal_a, month, "department", 1, "won_sum", 6200_00)  # typed: covers everyone
    typed = plan_period(scope, "won_sum")["totals"]
    assert (typed["completion"], typed["planned_fact"]) == (50.0, None)


@pytest.mark.django_db
def test_the_cli_prints_the_plan_report_as_json(installed):
    month = _today(installed).replace(day=1)
    seller = Employee.objects.for_portal(installed).filter(active=True).first().crm_id
    _set(installed, month, "employee", seller, "won_sum", 123_456_78)
    out = StringIO()
    call_command(
        "report",
        "plan",
        "--portal",
        installed.key,
        "--from",
        month.isoformat(),
        "--to",
        month.isoformat(),
        "--format",
        "json",
        stdout=out,
    )
    data = json.loads(out.getvalue())
    assert data["report"] == "plan" and data["from"] == month.isoformat()
    row = next(
        r
        for r in data["rows"]
        if r["id"] == str(seller) and r["metric"] == "won_sum" and r["pipeline_id"] is None
    )
    assert set(row) == {
        "month",
        "level",
        "id",
        "pipeline_id",
        "metric",
        "plan",
        "fact",
        "completion",
        "planned_fact",
        "remaining",
        "repeat_share",
        "bonus",
    }
    assert row["plan"] == 123456.78 and row["month"] == month.strftime("%Y-%m")


@pytest.mark.django_db
def test_copy_fill_rights_history_and_the_xlsx_round_trip(connected, make_portal):
    portal, now = connected, timezone.now()
    month = _today(portal).replace(day=1)
    everyone = Employee.objects.for_portal(portal).count()
    for head_department in Department.objects.for_portal(portal).exclude(head=None):
        head = Viewer(Viewer.HEAD, head_department.head.crm_id, [head_department.crm_id])
        rights = plan_rights(portal, head)
        if len(rights.employees) < everyone:
            break
    mine = Employee.objects.for_portal(portal).filter(department=head_department).first()
    outsider = Employee.objects.for_portal(portal).exclude(crm_id__in=rights.employees).first()
    with pytest.raises(PermissionError):
        plan_cell_check(
            portal,
            rights,
            month=month,
            level="employee",
            target=outsider.crm_id,
            pipeline=ALL_PIPELINES,
            metric="won_sum",
        )
    assert not plan_rights(portal, Viewer(Viewer.MANAGER, mine.crm_id)).any

    cell = plan_cell_check(
        portal,
        rights,
        month=month,
        level="employee",
        target=mine.crm_id,
        pipeline=ALL_PIPELINES,
        metric="won_sum",
    )
    assert plan_set(portal, cell=cell, value=500_00, by=head.user_crm_id, now=now)
    assert not plan_set(portal, cell=cell, value=500_00, by=head.user_crm_id, now=now)
    assert plan_set(portal, cell=cell, value=700_00, by=head.user_crm_id, now=now)
    history = list(
        PlanChange.objects.for_portal(portal).values_list(
            "old_value", "new_value", "changed_by_crm_id"
        )
    )
    assert history == [(None, 500_00, head.user_crm_id), (500_00, 700_00, head.user_crm_id)]

    following = month_add(month, 1)
    assert (
        plan_month_copy(
            portal,
            month=following,
            pipeline=ALL_PIPELINES,
            rights=rights,
            by=head.user_crm_id,
            now=now,
        )
        == 1
    )
    months = [month_add(month, i) for i in range(4)]
    row = [Cell(m, "employee", mine.crm_id, ALL_PIPELINES, "won_count") for m in months]
    with pytest.raises(PlanError):
        plan_row_fill(portal, cells=row, by=1, now=now)
    plan_set(portal, cell=row[1], value=3, by=1, now=now)
    plan_set(portal, cell=row[3], value=9, by=1, now=now)
    assert plan_row_fill(portal, cells=row, by=1, now=now, since=months[1]) == 1
    filled = Plan.objects.for_portal(portal).filter(target_crm_id=mine.crm_id, metric="won_count")
    assert dict(filled.values_list("month", "value")) == {
        months[1]: 3, months[2]: 3, months[3]: 9,  # the typed month kept, the past one left
    }  # fmt: skip
    assert plan_row_fill(portal, cells=row, by=1, now=now) == 1  # no `since`: the empty one

    grids = [
        plan_grid(
            portal,
            months=months,
            pipeline=ALL_PIPELINES,
            metric=metric,
            rights=rights,
            visible=rights.employees,
            now=now,
        )
        for metric in ("won_sum", "won_count")
    ]
    group = next(g for g in grids[0]["departments"] if g["id"] == str(head_department.crm_id))
    assert group["cells"][0]["default"] == 700.0  # the department's default: its employees' sum
    content = plan_xlsx(grids)
    before = sorted(
        Plan.objects.for_portal(portal).values_list(
            "month", "level", "target_crm_id", "metric", "value"
        )
    )
    Plan.objects.for_portal(portal).delete()
    cells = plan_xlsx_read(portal, content, rights=rights, now=now)
    plan_import(portal, cells=cells, by=1, now=now)
    after = sorted(
        Plan.objects.for_portal(portal).values_list(
            "month", "level", "target_crm_id", "metric", "value"
        )
    )
    assert after == before

    # A bad cell names itself and nothing changes; another portal's plans are untouched.
    book = load_workbook(BytesIO(content))
    book.active["F3"] = -1
    broken = BytesIO()
    book.save(broken)
    with pytest.raises(PlanError, match="F3"):
        plan_xlsx_read(portal, broken.getvalue(), rights=rights, now=now)
    other = make_portal()
    assert Plan.objects.for_portal(other).count() == 0
    # Another portal's plan for the same CRM ids never shows in this one.
    mine_only = plan_grid(
        portal,
        months=months,
        pipeline=ALL_PIPELINES,
        metric="won_sum",
        rights=rights,
        visible=rights.employees,
        now=now,
    )
    Plan.objects.create(
        portal=other,
        month=month,
        level="employee",
        target_crm_id=mine.crm_id,
        metric="won_sum",
        value=1,
        updated_at=now,
    )
    again = plan_grid(
        portal,
        months=months,
        pipeline=ALL_PIPELINES,
        metric="won_sum",
        rights=rights,
        visible=rights.employees,
        now=now,
    )
    assert again == mine_only
    scope = scope_resolve(portal, Viewer.operator(), start=month, end=month)
    row = next(
        r
        for r in plan(scope)["rows"]
        if r["id"] == str(mine.crm_id) and r["metric"] == "won_sum" and r["level"] == "employee"
    )
    assert row["plan"] == 700.0


@pytest.mark.django_db
def test_a_sales_floor_link_shows_its_portal_until_revoked(make_portal):
    portal, other = make_portal(), make_portal()
    now = timezone.now()
    link = tv_link_create(portal, name="Office TV", by=1, now=now)
    tv_link_create(other, name="theirs", by=1, now=now)
    assert tv_link_portal(link.token) == portal
    assert not tv_link_revoke(other, link_id=link.pk, now=now)  # not theirs to revoke
    assert tv_link_revoke(portal, link_id=link.pk, now=now)
    assert tv_link_portal(link.token) is None
    assert tv_link_portal("guess") is None


@pytest.mark.django_db
def test_a_typed_department_plan_is_its_plan_in_every_total_above_it(portal_a):
    company = Department.objects.create(portal=portal_a, crm_id=1, name="Продажи", sort=1)
    moscow = Department.objects.create(
        portal=portal_a, crm_id=2, name="Москва", sort=2, parent=company
    )
    Employee.objects.create(portal=portal_a, crm_id=10, name="Head", department=company)
    for crm_id in (11, 12):
        Employee.objects.create(
            portal=portal_a, crm_id=crm_id, name=f"M{crm_id}", department=moscow
        )
    month = _today(portal_a).replace(day=1)
    _set(portal_a, month, "employee", 10, "won_sum", 100_000)  # 1 000,00
    _set(portal_a, month, "employee", 11, "won_sum", 400_000_000)
    _set(portal_a, month, "employee", 12, "won_sum", 400_000_050)  # the employees: 8 000 000,50
    _set(portal_a, month, "department", 2, "won_sum", 2_000_000_000)  # Москва: 20 000 000

    scope = scope_resolve(portal_a, Viewer.operator(), start=month, end=_today(portal_a))
    rows = {(r["level"], r["id"]): r for r in plan(scope)["rows"]
            if r["pipeline_id"] is None and r["metric"] == "won_sum"}  # fmt: skip
    assert rows[("department", "2")]["plan"] == 20_000_000.0
    assert rows[("department", "1")]["plan"] == 20_001_000.0  # Москва's typed plan + the head's
    assert plan_period(scope, "won_sum")["totals"]["plan"] == 20_001_000.0

    _set(portal_a, month, "department", 1, "won_sum", 3_000_000_000)  # the top typed too
    assert plan_period(scope, "won_sum")["totals"]["plan"] == 30_000_000.0


@pytest.mark.django_db
def test_deals_reaching_the_named_stage_count_as_the_mirror_in_every_plan_view(installed):
    """The admin names a stage per pipeline: last month's entries into it per employee equal
    a count of the mirror's stage history; the today block, the suggestion, copy and the
    history of changes work for the metric; with no stage named nothing is reached."""
    from crmapp.models import StageChange
    from reports.models import ReportSettings
    from reports.plan_suggest import plan_suggest

    portal, now = installed, timezone.now()
    previous = month_add(_today(portal).replace(day=1), -1)
    span = _month_span(portal, previous)
    deals = {
        crm_id: (responsible, pipeline)
        for crm_id, responsible, pipeline in Deal.objects.for_portal(portal).values_list(
            "crm_id", "responsible__crm_id", "pipeline__crm_id"
        )
    }
    zone = ZoneInfo(portal.time_zone)
    entries = [
        (change.owner_crm_id, change.stage_crm_id,
         deals[change.owner_crm_id][1] if change.pipeline_crm_id is None
         else change.pipeline_crm_id, change.changed_at.astimezone(zone).date())
        for change in StageChange.objects.for_portal(portal).filter(
            entity_type="deal", changed_at__range=span, semantic="open")
        if change.owner_crm_id in deals
    ]  # fmt: skip
    (pipeline, stage), _n = Counter((p, s) for _deal, s, p, _d in entries).most_common(1)[0]
    mine = [(deals[deal][0] or 0, d) for deal, s, p, d in entries if (p, s) == (pipeline, stage)]
    reached = Counter(employee for employee, _day in mine)
    last = month_add(previous, 1) - timedelta(days=1)
    scope = scope_resolve(portal, Viewer.operator(), start=previous, end=last)

    def facts() -> dict:
        return {r["id"]: r["fact"] for r in plan(scope)["rows"] if r["level"] == "employee"
                and r["pipeline_id"] is None and r["metric"] == "stage_reached"}  # fmt: skip

    assert set(facts().values()) == {0}  # no stage named yet
    settings = ReportSettings.of(portal)
    settings.plan_stages = {str(pipeline): stage}
    settings.save()
    from crmapp.models import Stage
    from reports.plan_labels import plan_metric_labels

    named = Stage.objects.for_portal(portal).get(pipeline__crm_id=pipeline, crm_id=stage)
    with translation.override("en"):
        assert plan_metric_labels(portal)["stage_reached"] == f"Reached: {named.name}"
    counted = facts()
    for employee, fact in counted.items():
        assert fact == reached.get(int(employee), 0), employee
    assert sum(counted.values()) == sum(v for k, v in reached.items() if str(k) in counted)

    seller = max(reached, key=reached.get)
    assert _set(portal, previous, "employee", seller, "stage_reached", 20)
    row = next(r for r in plan(scope)["rows"] if r["id"] == str(seller)
               and r["pipeline_id"] is None and r["metric"] == "stage_reached")  # fmt: skip
    assert (row["plan"], row["fact"]) == (20, reached[seller])
    on_days = Counter(day for employee, day in mine if employee == seller)
    day = max(on_days, key=on_days.get)
    today = plan_today(scope_resolve(portal, Viewer.operator(), start=previous, end=day,
                                     employee=seller), "stage_reached", today=day)  # fmt: skip
    assert today["employees"][0]["fact_today"] == on_days[day]
    assert today["employees"][0]["day_plan"] == round(20 / len(working_days(previous)), 2)

    rights = plan_rights(portal, Viewer.operator())
    assert plan_month_copy(portal, month=month_add(previous, 1), pipeline=ALL_PIPELINES,
                           rights=rights, by=1, now=now) == 1  # fmt: skip
    assert list(PlanChange.objects.for_portal(portal).filter(metric="stage_reached")
                .values_list("old_value", "new_value")) == [(None, 20), (None, 20)]  # fmt: skip
    months = [month_add(previous, i) for i in range(4)]
    row_cells = [Cell(m, "employee", seller, ALL_PIPELINES, "stage_reached") for m in months]
    assert plan_row_fill(portal, cells=row_cells, by=1, now=now, since=months[2]) == 2
    grid = plan_grid(portal, months=months, pipeline=ALL_PIPELINES, metric="stage_reached",
                     rights=rights, visible=None, now=now)  # fmt: skip
    content = plan_xlsx([grid])
    stored = Plan.objects.for_portal(portal).filter(metric="stage_reached")
    before = sorted(stored.values_list("month", "target_crm_id", "value"))
    assert len(before) == 4
    stored.delete()
    plan_import(portal, cells=plan_xlsx_read(portal, content, rights=rights, now=now), by=1,
                now=now)  # fmt: skip
    assert sorted(stored.values_list("month", "target_crm_id", "value")) == before
    _set(portal, _today(portal).replace(day=1), "employee", seller, "won_count", 5)
    suggestion = plan_suggest(portal, month=_today(portal).replace(day=1), rights=rights, now=now)
    metrics = {m["metric"] for r in suggestion["rows"] for m in r["metrics"]}
    assert "stage_reached" in metrics
