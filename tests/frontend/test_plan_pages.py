"""The plan editor, the plan vs fact page and the sales-floor screen, through the test client
as the CRM opens them for an admin, a department head and a manager."""

from __future__ import annotations

import html
import json
import re
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from crmapp.models import Department, Employee
from reports.models import Plan, PlanChange, TvLink
from reports.scope import Viewer, plan_rights
from tests.conftest import open_app
from tests.frontend.test_app_page import _token
from tests.frontend.test_report_pages import _manager


def _month(portal) -> str:
    return timezone.now().astimezone(ZoneInfo(portal.time_zone)).strftime("%Y-%m")


def _head(portal) -> tuple[int, Department]:
    """A head whose departments hold some, not all, employees."""
    everyone = Employee.objects.for_portal(portal).count()
    for department in (
        Department.objects.for_portal(portal).exclude(head=None).exclude(head__crm_id=1)
    ):
        rights = plan_rights(
            portal, Viewer(Viewer.HEAD, department.head.crm_id, [department.crm_id])
        )
        if len(rights.employees) < everyone:
            return department.head.crm_id, department
    raise AssertionError("the sandbox has no head of a part of the company")


def _charts(body: str) -> list[tuple[str, dict]]:
    """(aria-label, spec) of every chart on a page."""
    found = re.findall(r'<canvas data-chart="([^"]+)" aria-label="([^"]+)"', body)
    return [(html.unescape(label), json.loads(html.unescape(spec))) for spec, label in found]


def _post(client, url: str, token: str, data: dict, **extra):
    return client.post(url, data, headers={"X-App-Session": token}, **extra)


@pytest.mark.django_db
def test_a_head_edits_his_departments_plan_cell_by_cell(client, connected, bitrix24):
    head, department = _head(connected)
    token = _token(open_app(client, bitrix24, user_id=head))
    page = client.get("/app/plan/", headers={"X-App-Session": token})
    assert page.status_code == 200
    body = page.content.decode()
    mine = Employee.objects.for_portal(connected).filter(department=department).first()
    outsider = (
        Employee.objects.for_portal(connected)
        .exclude(
            crm_id__in=plan_rights(
                connected, Viewer(Viewer.HEAD, head, [department.crm_id])
            ).employees
        )
        .first()
    )
    assert mine.name in body and outsider.name not in body

    month = _month(connected)
    cell = {
        "month": month,
        "level": "employee",
        "id": mine.crm_id,
        "metric": "won_sum",
        "pipeline": "",
    }
    saved = _post(client, "/app/plan/cell/", token, cell | {"value": "1 250 000,50"})
    assert saved.status_code == 200
    assert 'value="1\u00a0250\u00a0000,50"' in saved.content.decode()  # as it was typed
    # The department's default (the sum of its employees) comes along out of band.
    assert f'id="cell-department-{department.crm_id}-{month}" hx-swap-oob="true"' in (
        saved.content.decode()
    )
    plan = Plan.objects.for_portal(connected).get(target_crm_id=mine.crm_id)
    assert (plan.value, plan.updated_by_crm_id) == (125_000_050, head)

    for value, words in [("-5", "отрицательным"), ("abc", "числом"), ("1.234", "двух знаков")]:
        refused = _post(client, "/app/plan/cell/", token, cell | {"value": value})
        assert refused.status_code == 400
        assert words in refused.content.decode()
    later = _post(client, "/app/plan/cell/", token, cell | {"month": "2099-01", "value": "1"})
    assert later.status_code == 400
    assert Plan.objects.for_portal(connected).get(pk=plan.pk).value == 125_000_050
    assert PlanChange.objects.for_portal(connected).count() == 1

    # Another department's employee, a change through the address: refused.
    other = cell | {"id": outsider.crm_id, "value": "5"}
    assert _post(client, "/app/plan/cell/", token, other).status_code == 403
    assert client.post(f"/app/plan/cell/?s={token}", cell | {"value": "5"}).status_code == 401

    # Fill the row with its first plan; copy a month into the next.
    filled = _post(
        client,
        "/app/plan/fill/",
        token,
        {"level": "employee", "id": mine.crm_id, "metric": "won_sum", "year": month[:4]},
    )
    assert filled.status_code == 200 and "не тронуты" in filled.text
    assert Plan.objects.for_portal(connected).filter(target_crm_id=mine.crm_id).count() >= 1


@pytest.mark.django_db
def test_a_manager_is_refused_every_plan_change(client, connected, bitrix24):
    manager = _manager(connected)
    token = _token(open_app(client, bitrix24, user_id=manager.crm_id))
    month = _month(connected)
    cell = {
        "month": month,
        "level": "employee",
        "id": manager.crm_id,
        "metric": "won_sum",
        "value": "100",
    }
    assert client.get("/app/plan/", headers={"X-App-Session": token}).status_code == 403
    for url, data in [
        ("/app/plan/cell/", cell),
        ("/app/plan/copy/", {"month": month}),
        ("/app/plan/fill/", cell),
        ("/app/plan/import/", {}),
        ("/app/plan/bonus/", {"metric": "won_sum"}),
        ("/app/plan/tv/", {"name": "mine"}),
    ]:
        assert _post(client, url, token, data).status_code == 403, url
    assert client.get(f"/app/plan/export/?s={token}").status_code == 403
    assert not Plan.objects.for_portal(connected).exists()
    assert not TvLink.objects.for_portal(connected).exists()


@pytest.mark.django_db
def test_the_admin_exports_and_imports_the_plan_as_xlsx(client, connected, bitrix24):
    token = _token(open_app(client, bitrix24, user_id=1))
    month = _month(connected)
    employees = list(Employee.objects.for_portal(connected).filter(active=True)[:2])
    for employee, value in zip(employees, ("100000", "250000.75"), strict=True):
        cell = {
            "month": month,
            "level": "employee",
            "id": employee.crm_id,
            "metric": "won_sum",
            "value": value,
        }
        assert _post(client, "/app/plan/cell/", token, cell).status_code == 200
    export = client.get(f"/app/plan/export/?year={month[:4]}&s={token}")
    assert export["Content-Type"].startswith("application/vnd.openxmlformats")
    before = sorted(Plan.objects.for_portal(connected).values_list("target_crm_id", "value"))

    book = load_workbook(BytesIO(export.content))
    sheet = book.active
    column = [c.value for c in sheet[1]].index(month) + 1
    for row in sheet.iter_rows(min_row=2):
        if (
            row[0].value == "employee"
            and row[1].value == str(employees[0].crm_id)
            and (row[4].value == "won_sum")
        ):
            row[column - 1].value = 120000
    changed = BytesIO()
    book.save(changed)
    changed.seek(0)
    changed.name = "plan.xlsx"
    imported = _post(client, "/app/plan/import/", token, {"file": changed, "year": month[:4]})
    assert imported.status_code == 200, imported.content
    after = dict(Plan.objects.for_portal(connected).values_list("target_crm_id", "value"))
    assert after[employees[0].crm_id] == 120_000_00
    assert after[employees[1].crm_id] == dict(before)[employees[1].crm_id]

    garbage = BytesIO(b"not a workbook")
    garbage.name = "plan.xlsx"
    refused = _post(client, "/app/plan/import/", token, {"file": garbage})
    assert refused.status_code == 400 and "xlsx" in refused.content.decode()


@pytest.mark.django_db
def test_the_admin_sets_bonus_rules_and_a_revocable_sales_floor_link(
    client, connected, bitrix24, make_portal
):
    token = _token(open_app(client, bitrix24, user_id=1))
    rule = {
        "metric": "won_count",
        "min_completion": "80",
        "reach_unit": "fact",
        "reach_0": "10",
        "bonus_0": "5000",
        "reach_1": "15",
        "bonus_1": "9000",
    }
    assert _post(client, "/app/plan/bonus/", token, rule).status_code == 200
    bad = _post(client, "/app/plan/bonus/", token, rule | {"reach_1": "-1"})
    assert bad.status_code == 400
    from reports.models import BonusRule

    saved = BonusRule.objects.for_portal(connected).get(metric="won_count")
    assert saved.tiers == [{"reach": 10, "bonus": 5000_00}, {"reach": 15, "bonus": 9000_00}]
    # The form says what a threshold is; one without it is refused and changes nothing.
    unsaid = _post(client, "/app/plan/bonus/", token, rule | {"reach_unit": ""})
    assert unsaid.status_code == 400 and "% от плана" in unsaid.content.decode()
    assert _post(client, "/app/plan/bonus/", token, rule | {"reach_unit": "percent",
                 "reach_1": "120,5", "bonus_1": "9000"}).status_code == 200  # fmt: skip
    saved = BonusRule.objects.for_portal(connected).get(metric="won_count")
    assert (saved.reach_unit, saved.tiers[1]["reach"]) == ("percent", 12050)
    bad_percent = _post(client, "/app/plan/bonus/", token, rule | {"reach_unit": "percent",
                        "reach_0": "lots"})  # fmt: skip
    assert bad_percent.status_code == 400 and "120" in bad_percent.content.decode()
    assert BonusRule.objects.for_portal(connected).get(metric="won_count").tiers == saved.tiers

    created = _post(client, "/app/plan/tv/", token, {"name": "Office"})
    assert created.status_code == 200
    link = TvLink.objects.for_portal(connected).get()
    screen = client.get(f"/tv/{link.token}/")
    assert screen.status_code == 200
    assert "frame-ancestors 'none'" in screen["Content-Security-Policy"].split("; ")
    seller = Employee.objects.for_portal(connected).filter(active=True).first()
    assert seller.name not in screen.text  # nothing sold, no plan: not in the ranking yet
    cell = {"month": _month(connected), "level": "employee", "id": seller.crm_id,
            "metric": "won_sum", "value": "100"}  # fmt: skip
    assert _post(client, "/app/plan/cell/", token, cell).status_code == 200
    assert seller.name in client.get(f"/tv/{link.token}/").text
    # Another portal's admin cannot revoke it; its own admin can, and the screen goes dark.
    other = make_portal()
    foreign = TvLink.objects.create(portal=other, token="x" * 40, created_at=timezone.now())
    assert _post(client, f"/app/plan/tv/{foreign.pk}/revoke/", token, {}).status_code == 404
    assert _post(client, f"/app/plan/tv/{link.pk}/revoke/", token, {}).status_code == 200
    assert client.get(f"/tv/{link.token}/").status_code == 404
    assert client.get(f"/tv/{link.token}/", headers={"HX-Request": "true"}).status_code == 404


@pytest.mark.django_db
def test_the_plan_page_shows_plan_fact_pace_and_dynamics_to_each_role(client, installed, bitrix24):
    admin = _token(open_app(client, bitrix24, user_id=1))
    month = _month(installed)
    manager = _manager(installed)
    # No plan yet: the page says so and leads to the editor, rather than a row of dashes.
    empty = client.get("/app/reports/plan/?metric=won_count", headers={"X-App-Session": admin})
    notice = re.search(r'data-note="no-plan">(.*?)</p>', empty.content.decode(), re.S).group(1)
    assert "План на этот месяц ещё не задан" in notice and "/app/plan/" in notice
    cell = {
        "month": month,
        "level": "employee",
        "id": manager.crm_id,
        "metric": "won_count",
        "value": "7",
    }
    assert _post(client, "/app/plan/cell/", admin, cell).status_code == 200
    page = client.get("/app/reports/plan/?metric=won_count", headers={"X-App-Session": admin})
    assert page.status_code == 200
    body = page.content.decode()
    assert 'data-expands="d-' in body
    assert 'data-note="no-plan"' not in body
    # Below the fold, loaded when scrolled to: the charts are blocks of their own address.
    assert 'hx-get="/app/reports/plan/block/completion/?&metric=won_count' in body
    blocks = "".join(
        client.get(f"/app/reports/plan/block/{block}/?metric=won_count",
                   headers={"X-App-Session": admin, "HX-Request": "true"}).content.decode()
        for block in ("completion", "dynamics")
    )  # fmt: skip
    assert "data-chart" in blocks
    # Completion by employee, this month beside last: the planned employee, 7 this month.
    charts = dict(_charts(blocks))
    by_employee = charts["Выполнение плана по сотрудникам"]
    assert [d["label"] for d in by_employee["datasets"]] == ["Этот месяц, %", "Прошлый месяц, %"]
    index = by_employee["labels"].index(manager.name)
    assert by_employee["labels"] == [manager.name]  # only where a plan exists
    assert by_employee["datasets"][1]["values"][index] is None  # no plan last month
    assert "Выполнение плана по отделам" in charts

    own = _token(open_app(client, bitrix24, user_id=manager.crm_id))
    page = client.get("/app/reports/plan/?metric=won_count", headers={"X-App-Session": own})
    body = page.content.decode()
    assert page.status_code == 200
    assert 'data-score="fact"' in body and "/ 7" in body
    # His day in every plan metric: the won-count row carries his plan of 7.
    day = re.search(r'data-part="today-metrics">(.*?)</table>', body, re.S).group(1)
    rows = re.findall(r"<tr><td>([^<]+)</td>(.*?)</tr>", day, re.S)
    assert [label for label, _cells in rows] == [
        "Сумма успешных", "Успешные", "Создано сделок", "Звонки", "Встречи",
        "Дошли до этапа плана",
    ]  # fmt: skip
    assert '<td class="num">7</td>' in dict(rows)["Успешные"]
    assert "/app/plan/" not in body  # no editor link for a manager
    other = Employee.objects.for_portal(installed).exclude(crm_id=manager.crm_id).first()
    refused = client.get(
        f"/app/reports/plan/?employee={other.crm_id}", headers={"X-App-Session": own}
    )
    assert refused.status_code == 403
    data = client.get("/api/reports/plan/", headers={"X-App-Session": own}).json()
    assert {row["id"] for row in data["rows"]} == {str(manager.crm_id)}
    for what in ("repeat_sales", "new_sales"):
        drill = client.get(f"/app/reports/plan/drill/?what={what}", headers={"X-App-Session": own})
        assert drill.status_code == 200


@pytest.mark.django_db
def test_a_head_edits_the_suggested_activity_plans_before_saving_them(client, installed, bitrix24):
    admin = _token(open_app(client, bitrix24, user_id=1))
    month = _month(installed)
    seller = _manager(installed)
    cell = {"month": month, "level": "employee", "id": seller.crm_id, "metric": "won_count",
            "value": "6"}  # fmt: skip
    assert _post(client, "/app/plan/cell/", admin, cell).status_code == 200
    shown = client.get(f"/app/plan/suggest/?month={month}", headers={"X-App-Session": admin})
    assert shown.status_code == 200
    inputs = dict(
        re.findall(r'name="(plan:\d+:\w+)" inputmode="numeric" value="(\d*)"', shown.text)
    )
    assert set(inputs) == {f"plan:{seller.crm_id}:{m}" for m in ("deals_created", "calls",
                                                                 "meetings")}  # fmt: skip

    bad = inputs | {f"plan:{seller.crm_id}:calls": "many"}
    refused = _post(client, "/app/plan/suggest/save/", admin, {"month": month, **bad})
    assert refused.status_code == 400
    activity = ["calls", "meetings", "deals_created"]
    assert not Plan.objects.for_portal(installed).filter(metric__in=activity).exists()
    edited = inputs | {f"plan:{seller.crm_id}:calls": "250"}
    saved = _post(client, "/app/plan/suggest/save/", admin, {"month": month, **edited})
    assert saved.status_code == 200
    assert Plan.objects.for_portal(installed).get(metric="calls").value == 250

    manager = _token(open_app(client, bitrix24, user_id=seller.crm_id))
    assert _post(client, "/app/plan/suggest/save/", manager, {"month": month, **edited}
                 ).status_code == 403  # fmt: skip


@pytest.mark.django_db
def test_the_admin_names_each_pipelines_plan_stage_in_the_settings(client, installed, bitrix24):
    from crmapp.models import Pipeline, Stage
    from reports.models import ReportSettings

    token = _token(open_app(client, bitrix24, user_id=1))
    pipelines = list(Pipeline.objects.for_portal(installed).order_by("crm_id")[:2])
    stage = Stage.objects.for_portal(installed).filter(pipeline=pipelines[0], semantic="open")[1]
    other = Stage.objects.for_portal(installed).filter(pipeline=pipelines[1]).first()
    form = {"lead_days": "3", "deal_days": "14", "weight_call": "2", "weight_meeting": "5",
            "weight_email": "1", "weight_task": "1", "weight_other": "1"}  # fmt: skip
    page = client.get("/app/settings/", headers={"X-App-Session": token}).content.decode()
    assert f'name="plan_stage_{pipelines[0].crm_id}"' in page
    field = f"plan_stage_{pipelines[0].crm_id}"
    saved = client.post("/app/settings/", form | {field: stage.crm_id},
                        headers={"X-App-Session": token})  # fmt: skip
    assert saved.status_code == 200
    assert ReportSettings.of(installed).plan_stages == {str(pipelines[0].crm_id): stage.crm_id}
    # Another pipeline's stage is not this pipeline's: refused, nothing changes.
    assert not Stage.objects.for_portal(installed).filter(pipeline=pipelines[0],
                                                          crm_id=other.crm_id).exists()  # fmt: skip
    refused = client.post("/app/settings/", form | {field: other.crm_id},
                          headers={"X-App-Session": token})  # fmt: skip
    assert refused.status_code == 400
    assert ReportSettings.of(installed).plan_stages == {str(pipelines[0].crm_id): stage.crm_id}
    # Its name shows in the page, not a bare "stage".
    assert (
        stage.name
        in client.get("/app/settings/", headers={"X-App-Session": token}).content.decode()
    )
