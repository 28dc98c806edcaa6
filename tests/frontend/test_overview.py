"""The overview is the head of sales' morning screen: its figures are the reports' own,
each links into its report, and each role sees only what it may."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlparse

import pytest
from django.utils import timezone

from crmapp.models import Department, Employee
from reports.efficiency import efficiency
from reports.forgotten import forgotten
from reports.overview import overview
from reports.plan_edit import plan_set
from reports.plan_input import Cell
from reports.plan_today import plan_today
from reports.quality import quality
from reports.scope import Viewer, scope_resolve
from tests.conftest import open_app


def _token(response) -> str:
    return re.search(r'name="app-session" content="([^"]+)"', response.content.decode()).group(1)


def _head(portal) -> Viewer:
    """A department head who sees fewer people than the whole portal."""
    everyone = Employee.objects.for_portal(portal).count()
    for department in Department.objects.for_portal(portal).exclude(head=None):
        viewer = Viewer(Viewer.HEAD, department.head.crm_id, [department.crm_id])
        seen = scope_resolve(portal, viewer, start=timezone.now().date(), end=timezone.now()
                             .date()).employees  # fmt: skip
        if 1 < len(seen) < everyone:
            return viewer
    raise AssertionError("the sandbox has no head of a part of the portal")


def _manager(portal) -> Employee:
    """An active seller who heads no department and is not the portal's admin (user 1)."""
    heads = Department.objects.for_portal(portal).exclude(head=None).values_list("head__crm_id")
    return (
        Employee.objects.for_portal(portal)
        .filter(active=True)
        .exclude(crm_id__in=heads)
        .exclude(crm_id=1)
        .order_by("crm_id")
        .first()
    )


def _plans(portal, month, people) -> None:
    for index, crm_id in enumerate(sorted(people)):
        for metric, value in (("won_sum", 100_000_00 * (index + 1)), ("won_count", 3 + index)):
            cell = Cell(month, "employee", crm_id, -1, metric)
            plan_set(portal, cell=cell, value=value, by=1, now=timezone.now())


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["admin", "head", "manager"])
def test_the_overview_figures_are_the_reports_figures_for_each_role(installed, role):
    portal, now = installed, timezone.now()
    today = timezone.localtime(now, portal_zone(portal)).date()
    _plans(portal, today.replace(day=1), Employee.objects.for_portal(portal)
           .filter(active=True).values_list("crm_id", flat=True))  # fmt: skip
    if role == "admin":
        viewer = Viewer.operator()
    elif role == "head":
        viewer = _head(portal)
    else:
        viewer = Viewer(Viewer.MANAGER, _manager(portal).crm_id)
    data = overview(portal, viewer, now=now)

    month = scope_resolve(portal, viewer, start=today.replace(day=1), end=today)
    seen = month.employees
    assert (seen is None) == (role == "admin")
    plan_totals = plan_today(month, "won_sum", today=today)["totals"]
    assert data["plan"]["won_sum"] == plan_totals
    assert data["plan"]["won_count"] == plan_today(month, "won_count", today=today)["totals"]
    for key, day in (("today", today), ("yesterday", data["yesterday"])):
        totals = efficiency(scope_resolve(portal, viewer, start=day, end=day))["totals"]
        assert data["won"][key] == {"count": totals["won_count"], "sum": totals["won_sum"]}
        assert {row["column"]: row[key] for row in data["changes"]} == {
            row["column"]: totals[row["column"]] for row in data["changes"]
        }
    lost = forgotten(scope_resolve(portal, viewer, start=data["forgotten"]["from"], end=today),
                     now=now)  # fmt: skip
    assert data["forgotten"]["deals"] == sum(r["forgotten_deals"] for r in lost["by_employee"])
    assert data["forgotten"]["leads"] == lost["leads_total"]
    assert data["quality"]["deals"] == quality(month, now=now)["deals_total"]
    by_index = efficiency(month)["employees"]
    ranked = [r for r in data["activity"]["top"] + data["activity"]["bottom"]]
    assert {r["id"] for r in ranked} <= {r["id"] for r in by_index}
    if seen is not None:
        everyone = {r["id"] for k in ("completion", "activity") for p in ("top", "bottom")
                    for r in data[k][p]}  # fmt: skip
        assert {int(i) for i in everyone} <= seen
    if role == "manager":
        assert seen == {viewer.user_crm_id}
        assert data["plan"]["won_count"]["plan"] is not None
    if len(by_index) > 1:
        best = max(by_index, key=lambda r: r["activity_index"] or 0)
        assert data["activity"]["top"][0]["value"] == best["activity_index"]
    completion = [r for r in plan_today(month, "won_sum", today=today)["employees"]
                  if r["completion"] is not None]  # fmt: skip
    if completion:
        assert data["completion"]["top"][0]["value"] == max(r["completion"] for r in completion)


def portal_zone(portal):
    from zoneinfo import ZoneInfo

    return ZoneInfo(portal.time_zone)


@pytest.mark.django_db
def test_the_overview_page_links_each_figure_to_its_report_with_the_same_number(
    client, installed, bitrix24
):
    """Follow each link of the admin's overview: the report it opens shows the number."""
    portal = installed
    today = timezone.localtime(timezone.now(), portal_zone(portal)).date()
    _plans(portal, today.replace(day=1), Employee.objects.for_portal(portal)
           .filter(active=True).values_list("crm_id", flat=True))  # fmt: skip
    page = open_app(client, bitrix24, user_id=1)
    token, body = _token(page), page.content.decode()
    assert page.status_code == 200
    for part in ("month", "day", "changes", "completion-ranking", "activity-ranking"):
        assert f'data-part="{part}"' in body, part

    def figure(name: str) -> tuple[str, str]:
        found = re.search(rf'href="([^"]+)" data-figure="{name}".*?class="value[^"]*">([^<]+)<',
                          body, re.S)  # fmt: skip
        return unescape(found.group(1)), found.group(2).strip()

    def number(text: str) -> float:
        return float(text.replace("\u00a0", "").replace(" ", "").replace(",", "."))

    href, value = figure("forgotten-deals")
    api = client.get(href.replace("/app/reports/", "/api/reports/"),
                     headers={"X-App-Session": token}).json()  # fmt: skip
    assert number(value) == sum(row["forgotten_deals"] for row in api["by_employee"])
    href, value = figure("forgotten-leads")
    report = client.get(href, headers={"X-App-Session": token}).content.decode()
    assert f"({int(number(value))})" in report
    href, value = figure("quality")
    report = client.get(href, headers={"X-App-Session": token}).content.decode()
    assert f"({int(number(value))})" in report
    href, value = figure("plan-sum")
    report = client.get(href, headers={"X-App-Session": token}).content.decode()
    fact = re.search(r'data-score="fact">([^<]+)<', report).group(1).strip()
    assert fact == value
    href, _value = figure("won-yesterday")
    query = parse_qs(urlparse(href).query)
    assert query["period"] == ["custom"] and query["from"] == query["to"]
    assert client.get(href, headers={"X-App-Session": token}).status_code == 200


@pytest.mark.django_db
def test_a_manager_sees_his_own_day_in_russian(client, installed, bitrix24):
    portal = installed
    today = timezone.localtime(timezone.now(), portal_zone(portal)).date()
    seller = _manager(portal)
    _plans(portal, today.replace(day=1), [seller.crm_id])
    page = open_app(client, bitrix24, user_id=seller.crm_id)
    body = page.content.decode()
    assert page.status_code == 200
    assert "Ваш день" in body and "Ваш месяц" in body
    assert 'data-part="completion-ranking"' not in body  # nobody to rank against
    day = re.search(r'data-part="day">(.*?)</table>', body, re.S).group(1)
    assert "Звонки" in day and "Встречи" in day
