"""The plan vs fact page on a portal with many employees: each scope's plan_fact read once
per request, the blocks below the fold at addresses of their own under the page's checks,
long employee tables a page at a time (the export holds them all), and a small page."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from crmapp.models import Department, Employee, Pipeline
from frontend.paging import PAGE_ROWS
from frontend.session import AppSession, session_issue
from reports import plan_fact as plan_fact_module
from reports.aggregates import facts_add
from reports.metrics import DEAL_WON
from reports.models import ALL_PIPELINES, Plan
from reports.plan_period import plan_period
from reports.scope import Viewer, scope_resolve

EMPLOYEES = 130  # three pages of the period's table
NAME = re.compile(r">(Продавец \d{3})</a>")


@pytest.fixture
def crowded(make_portal):
    """Three departments and people outside them, each planned in all pipelines and in
    each of three."""
    portal = make_portal()
    departments = [
        Department.objects.create(portal=portal, crm_id=crm_id, name=f"Отдел {crm_id}")
        for crm_id in range(1, 4)
    ]
    for crm_id in range(3):
        Pipeline.objects.create(portal=portal, crm_id=crm_id, name=f"Воронка {crm_id}")
    month = timezone.now().astimezone(ZoneInfo(portal.time_zone)).date().replace(day=1)
    for crm_id in range(1, EMPLOYEES + 1):
        department = departments[crm_id % 3] if crm_id % 10 else None
        Employee.objects.create(
            portal=portal, crm_id=crm_id, name=f"Продавец {crm_id:03d}", department=department
        )
        for pipeline in (ALL_PIPELINES, 0, 1, 2):
            Plan.objects.create(portal=portal, month=month, level="employee",
                                target_crm_id=crm_id, pipeline_crm_id=pipeline,
                                metric="won_sum", value=100_000_00,
                                updated_at=timezone.now())  # fmt: skip
    return portal


def _token(portal, role: str = "admin", user: int = 1) -> str:
    return session_issue(AppSession(portal_id=portal.pk, user_crm_id=user, role=role))


def _get(client, url: str, token: str, **headers):
    return client.get(url, headers={"X-App-Session": token, **headers})


def _today(portal):
    return timezone.now().astimezone(ZoneInfo(portal.time_zone)).date()


def _year(portal) -> str:
    today = _today(portal)
    return f"period=custom&from={today - timedelta(days=365)}&to={today}"


@pytest.mark.django_db
def test_it_reads_each_scopes_plan_fact_once(client, crowded, monkeypatch):
    reads = []

    def counted(scope, **options):
        reads.append((scope.start, scope.end))
        return plan_fact_module.plan_fact(scope, **options)

    for module in ("frontend.plan_page", "reports.plan_period", "reports.plan_today",
                   "reports.plan_dynamics", "reports.plan_report"):  # fmt: skip
        monkeypatch.setattr(f"{module}.plan_fact", counted)
    token = _token(crowded)

    assert _get(client, "/app/reports/plan/", token).status_code == 200
    assert len(reads) == 1  # this month, which is also the period
    reads.clear()
    assert _get(client, f"/app/reports/plan/?{_year(crowded)}", token).status_code == 200
    assert len(reads) == 1  # this month; the year's table waits below the fold
    # Each block reads what it shows, each scope once: this month and last for completion.
    for block, scopes in (("period", 1), ("today", 1), ("completion", 2), ("dynamics", 1)):
        reads.clear()
        url = f"/app/reports/plan/block/{block}/?{_year(crowded)}"
        assert _get(client, url, token, HX_Request="true").status_code == 200
        assert len(reads) == scopes == len(set(reads)), block


@pytest.mark.django_db
def test_it_shows_every_employee_across_the_pages_of_the_period(client, crowded):
    token = _token(crowded)
    url, seen, pages = f"/app/reports/plan/block/period/?{_year(crowded)}", [], 0
    while url:
        body = _get(client, url, token, HX_Request="true").content.decode()
        names = NAME.findall(body)
        assert 0 < len(names) <= PAGE_ROWS
        seen += names
        pages += 1
        found = re.search(r'rel="next" href="[^"]*" hx-get="([^"]+)"', body)
        url = html.unescape(found.group(1)) if found else None
    assert pages == 3
    assert sorted(seen) == [f"Продавец {crm_id:03d}" for crm_id in range(1, EMPLOYEES + 1)]

    # Without JS the same pager is the page's own address, the session in it.
    first = _get(client, "/app/reports/plan/", token).content.decode()
    pager = re.search(r'data-pager="period".*?rel="next" href="([^"]+)"', first, re.S)
    link = html.unescape(pager.group(1))
    second = client.get(link)
    assert second.status_code == 200
    assert set(NAME.findall(second.content.decode())).isdisjoint(NAME.findall(first))

    # The export holds every row, whatever the page shows.
    export = _get(client, "/app/reports/plan/?format=xlsx", token)
    sheet = load_workbook(BytesIO(export.content)).active
    cells = {cell for row in sheet.iter_rows(values_only=True) for cell in row}
    assert all(f"Продавец {crm_id:03d}" in cells for crm_id in range(1, EMPLOYEES + 1))


@pytest.mark.django_db
def test_its_page_stays_small_with_many_employees(client, crowded):
    token = _token(crowded)
    for query in ("", _year(crowded)):
        page = _get(client, f"/app/reports/plan/?{query}", token)
        assert page.status_code == 200
        body = page.content.decode()
        assert len(page.content) < 300_000
        assert body.count('class="level-employee"') <= PAGE_ROWS
        today = re.search(r'data-part="today-people">(.*?)</table>', body, re.S).group(1)
        assert today.count("<tr>") <= PAGE_ROWS + 1  # and its head
        for block in ("completion", "dynamics"):
            assert f'hx-get="/app/reports/plan/block/{block}/' in body
            assert 'hx-trigger="revealed"' in body


@pytest.mark.django_db
def test_its_blocks_refuse_another_portal_and_role(client, crowded, make_portal):
    admin = _token(crowded)
    for block, mark in (("completion", 'id="plan-completion"'), ("dynamics", "data-chart"),
                        ("period", "plan-fact"), ("today", 'id="plan-today"')):  # fmt: skip
        answer = _get(client, f"/app/reports/plan/block/{block}/", admin, HX_Request="true")
        assert answer.status_code == 200 and mark in answer.content.decode(), block
    assert client.get("/app/reports/plan/block/period/").status_code == 401
    assert _get(client, "/app/reports/plan/block/nothing/", admin).status_code == 404
    assert _get(client, "/app/reports/efficiency/block/period/", admin).status_code == 404

    # A manager sees his own row and is refused anyone else's, as on the page.
    manager = _token(crowded, role="manager", user=5)
    own = _get(client, "/app/reports/plan/block/period/", manager, HX_Request="true")
    assert own.status_code == 200
    assert "Продавец 005" in own.content.decode() and "Продавец 006" not in own.content.decode()
    for block in ("period", "completion", "dynamics", "today"):
        url = f"/app/reports/plan/block/{block}/?employee=6"
        assert _get(client, url, manager, HX_Request="true").status_code == 403

    # Another portal's session reaches only its own portal: this one's rows never show.
    stranger = _token(make_portal())
    for query in ("", "employee=5", f"page=2&{_year(crowded)}"):
        url = f"/app/reports/plan/block/period/?{query}"
        answer = _get(client, url, stranger, HX_Request="true")
        assert answer.status_code == 200 and "Продавец" not in answer.content.decode()
    refused = _get(client, "/app/reports/plan/block/period/?department=1", stranger)
    assert refused.status_code == 400


@pytest.mark.django_db
def test_a_lines_pipelines_load_when_it_is_opened_with_the_tables_numbers(client, crowded):
    token = _token(crowded)
    for pipeline in (0, 1, 2):  # a seller of department 2 sold in every pipeline today
        key = (_today(crowded), DEAL_WON, 4, pipeline, "", "")
        facts_add(crowded, {key: [1, 5_000_00, 0]})
    period = _get(client, f"/app/reports/plan/block/period/?{_year(crowded)}", token,
                  HX_Request="true").content.decode()  # fmt: skip
    assert 'class="level-pipeline"' not in period  # not read, not sent, until opened
    opens = re.search(r'hx-get="(/app/reports/plan/block/pipelines/\?[^"]*)&line=employee'
                      r'&employee=(\d+)"', period)  # fmt: skip
    assert opens and "from=" in html.unescape(opens.group(1))
    # The line's pipelines are those the whole table split into pipelines shows.
    scope = scope_resolve(crowded, Viewer("admin", 1), start=_today(crowded) - timedelta(days=365),
                          end=_today(crowded))  # fmt: skip
    table = plan_period(scope, "won_sum", data=plan_fact_module.plan_fact(scope))
    everyone = table["employees"] + [row for g in table["departments"] for row in g["employees"]]
    employee = next(row for row in everyone if row["id"] == "4")
    department = next(group for group in table["departments"] if group["id"] == "2")
    assert len(employee["pipelines"]) == len(department["pipelines"]) == 3
    # The table read without the split: the same lines and figures, and a chevron exactly
    # where the split has pipelines.
    lazy = plan_period(scope, "won_sum", data=plan_fact_module.plan_fact(scope, split=False))
    split_lines, lazy_lines = _lines(table), _lines(lazy)
    assert split_lines.keys() == lazy_lines.keys() and len(lazy_lines) > EMPLOYEES
    for key, row in lazy_lines.items():
        full = split_lines[key]
        assert row["expandable"] == full["expandable"] == bool(full["pipelines"]), key
        assert row["pipelines"] == []
        assert row | {"pipelines": None} == full | {"pipelines": None}, key
    assert lazy["totals"] == table["totals"]
    for level, line in (("employee", employee), ("department", department)):
        url = (
            f"/app/reports/plan/block/pipelines/?{_year(crowded)}&line={level}&{level}={line['id']}"
        )
        answer = _get(client, url, token, HX_Request="true")
        assert answer.status_code == 200
        assert answer.context["line"]["pipelines"] == line["pipelines"]
        rows = answer.content.decode().count(f'data-parent="{level[0]}-{line["id"]}"')
        assert rows == 3 and " hidden" not in answer.content.decode()

    # Under the page's rights: a manager opens his own line only; a line must be named.
    manager = _token(crowded, role="manager", user=5)
    mine = "/app/reports/plan/block/pipelines/?line=employee&employee="
    assert _get(client, f"{mine}5", manager, HX_Request="true").status_code == 200
    assert _get(client, f"{mine}6", manager, HX_Request="true").status_code == 403
    for query in ("line=employee", "line=pipeline&employee=5", "employee=5"):
        url = f"/app/reports/plan/block/pipelines/?{query}"
        assert _get(client, url, token, HX_Request="true").status_code == 400, query


def _lines(table: dict) -> dict:
    """Every line of a period table by (level, id), the departments' without their people."""
    rows = table["employees"] + [
        row for group in table["departments"] for row in (group, *group["employees"])
    ]
    return {(row["level"], row["id"]): _line(row) for row in rows}


def _line(row: dict) -> dict:
    return {key: value for key, value in row.items() if key not in ("employees", "depth")}
