"""The data-quality tab ("Ошибки") for the admin, a head and a manager: the page, its
drill-downs, the export and the API show the same deals, each viewer only his own."""

from __future__ import annotations

import re
from datetime import date
from io import BytesIO

import pytest
from openpyxl import load_workbook

from crmapp.models import Deal, Department, Employee
from reports.models import QUALITY_RULES, ReportSettings
from tests.conftest import open_app
from tests.frontend.test_app_page import _token
from tests.frontend.test_report_pages import _get

PERIOD = "period=quarter"


def _owner_with_errors(portal, api_rows) -> Employee:
    """An active manager (no head, not the admin) whose deals fail some rule."""
    heads = Department.objects.for_portal(portal).values("head")
    failing = {int(row["id"]) for row in api_rows if row["id"] and row["with_errors"]}
    return (
        Employee.objects.for_portal(portal)
        .filter(active=True, department__isnull=False, crm_id__in=failing)
        .exclude(crm_id=1)
        .exclude(pk__in=heads)
        .order_by("crm_id")
        .first()
    )


@pytest.mark.django_db
def test_the_admin_reads_the_errors_drills_each_number_and_exports_them(
    client, installed, bitrix24
):
    token = _token(open_app(client, bitrix24, user_id=1))
    page = _get(client, f"/app/reports/quality/?{PERIOD}", token)
    assert page.status_code == 200
    body = page.content.decode()
    assert ">Ошибки</a>" in body and "Ошибки заполнения CRM" in body
    assert "Доля от проверенных, %" in body and "Нет запланированного дела" in body

    api = _get(client, f"/api/reports/quality/?{PERIOD}", token).json()
    assert api["rules"] == list(QUALITY_RULES)
    assert api["deals_total"] == sum(row["with_errors"] for row in api["employees"]) > 0
    # One row per failing deal, a column per rule: red cells with the reason in the title.
    shown = min(api["deals_total"], 200)
    assert body.count('class="card-link"') == shown
    assert body.count('<td class="fail"') == sum(len(d["errors"]) for d in api["deals"][:shown])
    assert re.search(r'<td class="fail" data-rule="no_source" title="Источник не указан">', body)
    first = api["deals"][0]
    assert f'data-crm-path="/crm/deal/details/{first["id"]}/"' in body

    # Every number drills to as many deals as it says.
    for what in ("checked", "with_errors", *QUALITY_RULES):
        link = re.search(
            rf'drill/\?[^"]*what={what}&(?:amp;)?employee=(\d+)"[^>]*>([\d\xa0]+)<', body
        )
        employee, number = link.group(1), int(link.group(2).replace("\xa0", ""))
        listing = _get(
            client,
            f"/app/reports/quality/drill/?{PERIOD}&what={what}&employee={employee}",
            token,
        ).content.decode()
        assert min(number, 500) == listing.count('data-crm-path="/crm/deal/details/'), what

    export = client.get(f"/app/reports/quality/?{PERIOD}&format=xlsx&s={token}")
    book = load_workbook(BytesIO(export.content))
    assert book.sheetnames == ["Сотрудники", "По правилам", "Сделки"]
    deals = book["Сделки"]
    assert deals["A2"].value == "Период" and deals["A3"].value is None  # the filters on top
    header = [cell.value for cell in deals[4]]
    assert header[:6] == ["ID", "Название", "Ответственный", "Стадия", "Сумма", "Ошибки"]
    assert deals.max_row == 4 + api["deals_total"]
    summary = [cell.value for cell in book["Сотрудники"][4]]
    assert summary[2:5] == ["Проверено сделок", "С ошибками", "Доля с ошибками, %"]


@pytest.mark.django_db
def test_a_manager_sees_his_own_errors_and_a_head_his_departments_on_every_url(
    client, installed, bitrix24
):
    admin = _token(open_app(client, bitrix24, user_id=1))
    everyone = _get(client, f"/api/reports/quality/?{PERIOD}", admin).json()
    manager = _owner_with_errors(installed, everyone["employees"])
    token = _token(open_app(client, bitrix24, user_id=manager.crm_id))

    mine = _get(client, f"/api/reports/quality/?{PERIOD}", token).json()
    assert [row["id"] for row in mine["employees"]] == [str(manager.crm_id)]
    own = set(
        Deal.objects.for_portal(installed)
        .filter(responsible=manager)
        .values_list("crm_id", flat=True)
    )
    assert mine["deals"] and {int(d["id"]) for d in mine["deals"]} <= own
    page = _get(client, f"/app/reports/quality/?{PERIOD}", token).content.decode()
    assert "Что исправить в моих сделках" in page
    assert page.count('class="card-link"') == mine["deals_total"]
    drilled = _get(client, f"/api/reports/quality/drill/?{PERIOD}&what=with_errors", token).json()
    assert drilled["total"] == mine["deals_total"]
    assert {int(row["id"]) for row in drilled["rows"]} <= own

    other = Employee.objects.for_portal(installed).exclude(crm_id=manager.crm_id).first()
    department = manager.department.crm_id
    for url in (
        f"/app/reports/quality/?employee={other.crm_id}",
        f"/app/reports/quality/?department={department}",
        f"/app/reports/quality/?employee={other.crm_id}&format=xlsx",
        f"/app/reports/quality/drill/?what=no_source&employee={other.crm_id}",
        f"/app/reports/quality/drill/?what=checked&employee={other.crm_id}&format=xlsx",
        f"/api/reports/quality/?employee={other.crm_id}",
        f"/api/reports/quality/drill/?what=with_errors&employee={other.crm_id}",
    ):
        assert _get(client, url, token).status_code == 403, url

    # A head (not the admin) sees his departments' employees, and only them.
    department = (
        Department.objects.for_portal(installed)
        .filter(head__active=True)
        .exclude(head__crm_id=1)
        .order_by("crm_id")
        .first()
    )
    head_token = _token(open_app(client, bitrix24, user_id=department.head.crm_id))
    seen = _get(client, f"/api/reports/quality/?{PERIOD}", head_token).json()
    from reports.scope import Viewer, scope_resolve

    headed = Department.objects.for_portal(installed).filter(head=department.head)
    viewer = Viewer(Viewer.HEAD, department.head.crm_id, headed.values_list("crm_id", flat=True))
    allowed = scope_resolve(installed, viewer, start=date.min, end=date.max).employees
    assert {int(row["id"]) for row in seen["employees"] if row["id"]} <= allowed
    assert len(seen["employees"]) < len(everyone["employees"])
    names = {row["responsible"] for row in seen["deals"]}
    assert names <= set(
        Employee.objects.for_portal(installed)
        .filter(crm_id__in=allowed)
        .values_list("name", flat=True)
    )


@pytest.mark.django_db
def test_switching_a_rule_off_in_settings_removes_its_column_and_its_counts(
    client, installed, bitrix24
):
    token = _token(open_app(client, bitrix24, user_id=1))
    form = {
        "lead_days": "3",
        "deal_days": "14",
        "digest_at": "",
        "weight_call": "2",
        "weight_meeting": "5",
        "weight_email": "1",
        "weight_task": "1",
        "weight_other": "1",
    }
    form |= {f"rule_{rule}": "on" for rule in QUALITY_RULES if rule != "no_source"}  # fmt: skip
    settings_page = _get(client, "/app/settings/", token).content.decode()
    assert settings_page.count('name="rule_') == len(QUALITY_RULES)
    assert 'name="quality_in_notify"' in settings_page
    assert client.post("/app/settings/", form, headers={"X-App-Session": token}).status_code == 200
    assert ReportSettings.of(installed).quality_rules_enabled() == [
        rule for rule in QUALITY_RULES if rule != "no_source"
    ]
    api = _get(client, f"/api/reports/quality/?{PERIOD}", token).json()
    assert "no_source" not in api["rules"] and "no_source" not in api["employees"][0]
    page = _get(client, f"/app/reports/quality/?{PERIOD}", token).content.decode()
    assert 'data-rule="no_source"' not in page and "Источник не указан" not in page
    refused = _get(client, "/app/reports/quality/drill/?what=no_source", token)
    assert refused.status_code == 400


@pytest.mark.django_db
def test_a_manager_opening_the_app_is_told_how_many_of_his_deals_to_fix(
    client, installed, bitrix24
):
    admin = _token(open_app(client, bitrix24, user_id=1))
    everyone = _get(client, "/api/reports/quality/", admin).json()
    manager = _owner_with_errors(installed, everyone["employees"])
    mine = {row["id"]: row for row in everyone["employees"]}[str(manager.crm_id)]

    opened = open_app(client, bitrix24, user_id=manager.crm_id).content.decode()
    assert "Ошибки в карточк" in opened and f" {mine['with_errors']} сдел" in opened
    assert "Что исправить в моих сделках" in opened
    # The admin's overview stays as it was.
    assert "Что исправить в моих сделках" not in open_app(client, bitrix24).content.decode()
