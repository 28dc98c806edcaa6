from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime, time, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from crmapp.models import Activity, Deal, Department, Employee, Lead
from reports.drill import drill
from reports.efficiency import efficiency, efficiency_dynamics
from reports.forgotten import forgotten
from reports.scope import ScopeRefused, Viewer, scope_resolve


@pytest.fixture(scope="module")
def period():
    today = timezone.localdate(timezone=ZoneInfo("Europe/Moscow"))
    return today - timedelta(days=200), today


def _span(portal, start: date, end: date):
    zone = ZoneInfo(portal.time_zone)
    return datetime.combine(start, time.min, zone), datetime.combine(end, time.max, zone)


@pytest.mark.django_db
def test_efficiency_equals_a_count_straight_from_the_mirror(installed, period):
    start, end = period
    report = efficiency(scope_resolve(installed, Viewer.operator(), start=start, end=end))
    span = _span(installed, start, end)
    deals = Deal.objects.for_portal(installed)
    won = Counter(
        deals.filter(semantic="won", closed_at__range=span).values_list(
            "responsible__crm_id", flat=True
        )
    )
    calls = Counter(
        Activity.objects.for_portal(installed)
        .filter(kind="call", completed=True, completed_at__range=span)
        .values_list("responsible__crm_id", flat=True)
    )
    rows = {row["id"]: row for row in report["employees"]}
    assert {k: v["won_count"] for k, v in rows.items() if v["won_count"]} == {
        str(k): n for k, n in won.items()
    }
    assert {k: v["calls"] for k, v in rows.items() if v["calls"]} == {
        str(k): n for k, n in calls.items()
    }
    # The period ends today, so "in work" is what is open now.
    assert report["totals"]["in_work_count"] == deals.filter(semantic="open").count()
    assert sum(row["activity_index"] or 0 for row in rows.values()) == pytest.approx(100, abs=0.1)
    total_won = report["totals"]["won_count"]
    assert report["totals"]["won_sum"] == pytest.approx(
        float(
            sum(
                deals.filter(semantic="won", closed_at__range=span).values_list("amount", flat=True)
            )
        )
    )
    assert report["totals"]["win_rate"] == round(
        100 * total_won / (total_won + report["totals"]["lost_count"]), 2
    )

    dynamics = efficiency_dynamics(
        scope_resolve(installed, Viewer.operator(), start=start, end=end), "won_count"
    )
    assert sum(dynamics["totals"]) == total_won


@pytest.mark.django_db
def test_forgotten_lists_every_open_deal_created_in_the_period_with_a_reason(installed, period):
    start, end = period
    now = timezone.now()
    report = forgotten(scope_resolve(installed, Viewer.operator(), start=start, end=end), now=now)
    created_open = Deal.objects.for_portal(installed).filter(
        semantic="open", created_at__range=_span(installed, start, end)
    )
    idle = {d.crm_id for d in created_open if d.last_touch_at <= now - timedelta(days=14)}
    no_step = {d.crm_id for d in created_open if not d.has_next_step}
    listed = {int(deal["id"]): set(deal["reasons"]) for deal in report["deals"]}
    assert set(listed) == idle | no_step
    assert {i for i, reasons in listed.items() if "idle" in reasons} == idle
    assert sum(row["forgotten_deals"] for row in report["by_employee"]) == len(idle)
    assert (
        sum(row["created_deals"] for row in report["by_department"])
        == created_open.model.objects.for_portal(installed)
        .filter(created_at__range=_span(installed, start, end))
        .count()
    )
    assert all(deal["url"].endswith(f"/crm/deal/details/{deal['id']}/") for deal in report["deals"])


@pytest.mark.django_db
def test_drill_downs_page_in_sql_and_their_totals_are_the_numbers(installed, period):
    start, end = period
    scope = scope_resolve(installed, Viewer.operator(), start=start, end=end)
    now = timezone.now()
    totals = efficiency(scope)["totals"]
    counts = forgotten(scope, now=now)["by_employee"]
    numbers = {
        "won_count": totals["won_count"],
        "calls": totals["calls"],
        "forgotten_deals": sum(row["forgotten_deals"] for row in counts),
        "no_next_step_deals": sum(row["no_next_step_deals"] for row in counts),
        "forgotten_leads": sum(row["forgotten_leads"] for row in counts),
    }
    for what, number in numbers.items():
        whole = drill(scope, what, now=now)
        assert whole["total"] == len(whole["rows"]) == number, what
        pages = [drill(scope, what, now=now, limit=7, offset=o) for o in range(0, number + 7, 7)]
        assert all(page["total"] == number for page in pages)
        assert [row["id"] for page in pages for row in page["rows"]] == [
            row["id"] for row in whole["rows"]
        ], what


@pytest.mark.django_db
def test_a_manager_sees_only_himself_and_a_head_his_department(installed, period):
    start, end = period
    departments = Department.objects.for_portal(installed)
    department = departments.filter(employees__isnull=False).exclude(
        crm_id__in=departments.filter(parent__isnull=False).values("parent__crm_id")
    )[0]  # a department without sub-departments
    staff = set(
        Employee.objects.for_portal(installed)
        .filter(department=department)
        .values_list("crm_id", flat=True)
    )
    manager, other = (
        sorted(staff)[0],
        Employee.objects.for_portal(installed)
        .exclude(crm_id__in=staff)
        .values_list("crm_id", flat=True)[0],
    )

    as_manager = Viewer(Viewer.MANAGER, manager)
    scope = scope_resolve(installed, as_manager, start=start, end=end)
    assert scope.employees == {manager}
    assert {row["id"] for row in efficiency(scope)["employees"]} <= {str(manager)}
    with pytest.raises(ScopeRefused):
        scope_resolve(installed, as_manager, start=start, end=end, employee=other)

    as_head = Viewer(Viewer.HEAD, manager, [department.crm_id])
    assert scope_resolve(installed, as_head, start=start, end=end).employees >= staff
    with pytest.raises(ScopeRefused):
        scope_resolve(installed, as_head, start=start, end=end, employee=other)


@pytest.mark.django_db
def test_the_cli_prints_the_reports_data(installed, period):
    start, end = period
    out = StringIO()
    call_command("report", "efficiency", "--portal", installed.key, "--from", start.isoformat(),
                 "--to", end.isoformat(), "--format", "json", stdout=out)  # fmt: skip
    printed = json.loads(out.getvalue())
    expected = efficiency(scope_resolve(installed, Viewer.operator(), start=start, end=end))
    assert printed == json.loads(json.dumps(expected))
    assert set(printed["totals"]) == set(printed["employees"][0]) - {"id", "name"}

    with pytest.raises(CommandError, match="no portal"):
        call_command("report", "forgotten", "--portal", "nope", "--from", "2026-01-01",
                     "--to", "2026-01-31")  # fmt: skip
    with pytest.raises(CommandError, match="after it ends"):  # the CLI speaks English
        call_command("report", "forgotten", "--portal", installed.key, "--from", "2026-02-01",
                     "--to", "2026-01-31")  # fmt: skip


def _open_at_end_from_the_crms_history(store, kind: str, end: datetime, ids: set[int]) -> int:
    """Entities open at `end` by the CRM's own stage history: the last row written by then."""
    table, semantic = {"lead": ("lead_history", "STATUS_SEMANTIC_ID"),
                       "deal": ("deal_history", "STAGE_SEMANTIC_ID")}[kind]  # fmt: skip
    last: dict[int, str] = {}
    for owner, at, state in store.query(
        f"SELECT OWNER_ID, CREATED_TIME, {semantic} FROM {table} ORDER BY ID"  # noqa: S608
    ):
        if owner in ids and datetime.fromisoformat(at) <= end:
            last[owner] = state
    return sum(1 for state in last.values() if state == "P")


@pytest.mark.django_db
def test_in_work_at_the_end_of_last_month_equals_a_recount_from_the_crms_history(
    installed, bitrix24
):
    zone = ZoneInfo(installed.time_zone)
    first = timezone.localdate(timezone=zone).replace(day=1)
    start, end = (first - timedelta(days=1)).replace(day=1), first - timedelta(days=1)
    totals = efficiency(scope_resolve(installed, Viewer.operator(), start=start, end=end))["totals"]
    end_at = datetime.combine(end, time.max, zone)
    store = bitrix24.portal.store
    for kind, model, figure in (("lead", Lead, "leads_in_work"), ("deal", Deal, "in_work_count")):
        ids = set(model.objects.for_portal(installed).values_list("crm_id", flat=True))
        assert totals[figure] == _open_at_end_from_the_crms_history(store, kind, end_at, ids), kind


@pytest.mark.django_db
def test_the_planted_history_gaps_follow_the_current_state_from_their_modification(installed):
    from crmapp.models import StageChange

    def last_row_semantic(entity_type: str, crm_id: int) -> str:
        rows = StageChange.objects.for_portal(installed).filter(
            entity_type=entity_type, owner_crm_id=crm_id
        )
        return rows.order_by("-changed_at", "-crm_id").values_list("semantic", flat=True)[0]

    gaps = {
        (entity_type, entity.crm_id): entity
        for entity_type, model in (("lead", Lead), ("deal", Deal))
        for entity in model.objects.for_portal(installed)
        if last_row_semantic(entity_type, entity.crm_id) != entity.semantic
    }
    assert sorted((kind, entity.semantic) for (kind, _), entity in gaps.items()) == [
        ("deal", "open"), ("deal", "open"), ("lead", "lost"), ("lead", "lost"), ("lead", "open"),
    ]  # fmt: skip
    for entity in gaps.values():
        assert entity.closed_at == (None if entity.semantic == "open" else entity.modified_at)
    # "In work" now is the current state, gaps included.
    today = timezone.localdate(timezone=ZoneInfo(installed.time_zone))
    totals = efficiency(scope_resolve(installed, Viewer.operator(), start=today, end=today))
    leads = Lead.objects.for_portal(installed)
    assert totals["totals"]["leads_in_work"] == leads.filter(semantic="open").count()


@pytest.mark.django_db
def test_the_win_rate_list_holds_its_denominator_the_won_and_the_lost_marked(installed, period):
    start, end = period
    scope = scope_resolve(installed, Viewer.operator(), start=start, end=end)
    totals = efficiency(scope)["totals"]
    listing = drill(scope, "win_rate")
    states = Counter(row["state"] for row in listing["rows"])
    assert listing["total"] == totals["won_count"] + totals["lost_count"] == len(listing["rows"])
    assert states == {"won": totals["won_count"], "lost": totals["lost_count"]}
    assert round(100 * states["won"] / listing["total"], 2) == totals["win_rate"]
    first_lost = next(i for i, row in enumerate(listing["rows"]) if row["state"] == "lost")
    assert all(row["state"] == "lost" for row in listing["rows"][first_lost:])  # won first


@pytest.mark.django_db
def test_a_fired_owners_forgotten_deals_go_to_his_head_and_say_so(installed, bitrix24):
    from reports.notify import forgotten_notify, notify_recipients

    today = timezone.localdate(timezone=ZoneInfo(installed.time_zone))
    scope = scope_resolve(installed, Viewer.operator(), start=date.min, end=today)
    owners = {int(d["responsible_id"]) for d in forgotten(scope)["deals"] if d["responsible_id"]}
    people = Employee.objects.for_portal(installed)
    fired = set(people.filter(active=False, crm_id__in=owners).values_list("crm_id", flat=True))
    assert fired, "the sandbox plants forgotten deals of fired employees"
    routes = notify_recipients(installed, owners)

    before = len(bitrix24.control.notifications())
    sent = forgotten_notify(scope)
    notes = bitrix24.control.notifications()[before:]

    inactive = set(people.filter(active=False).values_list("crm_id", flat=True))
    assert {note["user_id"] for note in notes} == set(sent) and not set(sent) & inactive
    for owner in fired:
        head, who = routes[owner]
        assert who.crm_id == owner and head not in inactive
        if head is not None:
            to_head = [n["message"] for n in notes if n["user_id"] == head]
            assert any(f"Сделки сотрудника {who.name} (больше не работает)" in m for m in to_head)


@pytest.mark.django_db
def test_namesakes_are_told_apart_by_their_departments(portal_a, portal_b):
    from reports.people import employee_labels

    moscow = Department.objects.create(portal=portal_a, crm_id=1, name="Москва")
    kazan = Department.objects.create(portal=portal_a, crm_id=2, name="Казань")
    for crm_id, name, department in [(1, "Анна Егорова", moscow), (2, "Анна Егорова", kazan),
                                     (3, "Иван Петров", moscow)]:  # fmt: skip
        Employee.objects.create(portal=portal_a, crm_id=crm_id, name=name, department=department)
    Employee.objects.create(portal=portal_b, crm_id=9, name="Иван Петров")  # another portal's

    assert employee_labels(portal_a, [1, 2, 3]) == {
        1: "Анна Егорова (Москва)", 2: "Анна Егорова (Казань)", 3: "Иван Петров",
    }  # fmt: skip
