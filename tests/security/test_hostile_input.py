"""Hostile input gets a 4xx with a sentence, changes nothing and is not echoed whole."""

from __future__ import annotations

import logging
import re
import zipfile
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from django.core import signing
from django.utils import timezone
from openpyxl import Workbook

from crmapp.models import Employee
from frontend.session import SALT, AppSession, session_issue
from reports.models import Plan
from tests.webhooks.test_bitrix24_events import APP_TOKEN, event_body, post
from webhooks.models import InboundEvent


@pytest.fixture
def portal(connected):
    connected.application_token = APP_TOKEN
    connected.save()
    return connected


@pytest.fixture
def admin(portal):
    return session_issue(AppSession(portal_id=portal.pk, user_crm_id=1, role="admin"))


# -- webhooks --------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("entity_id", ["99999999999999999999999", "-1", "1e3", "٣"])
def test_an_event_id_beyond_any_table_is_refused(client, portal, entity_id):
    body = event_body(portal, "bitrix24_event_ONCRMDEALUPDATE.txt", entity_id=1)
    body = body.replace("data%5BFIELDS%5D%5BID%5D=1", f"data%5BFIELDS%5D%5BID%5D={entity_id}")

    response = post(client, body)

    assert response.status_code == 400
    assert "numeric data[FIELDS][ID]" in response.content.decode()
    assert not InboundEvent.objects.for_portal(portal).exists()


@pytest.mark.django_db
def test_a_huge_malformed_key_is_not_echoed_whole(client, portal, caplog):
    key = "x]" * 250_000
    with caplog.at_level(logging.WARNING):
        response = client.post(
            "/bitrix24/events/", f"{key}=1", content_type="application/x-www-form-urlencoded"
        )

    assert response.status_code == 400
    assert len(response.content) < 400
    assert "500000 characters" in response.content.decode()
    assert max(len(record.getMessage()) for record in caplog.records) < 600


# -- sessions --------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data",
    [
        {"portal_id": 1, "user_crm_id": 1, "role": "admin", "department_ids": [], "is_root": 1},
        {"portal_id": 1, "role": "admin", "department_ids": []},
        {"portal_id": "1", "user_crm_id": 1, "role": "admin", "department_ids": []},
        ["not", "a", "dict"],
    ],
    ids=["unknown-field", "missing-field", "wrong-type", "not-a-dict"],
)
def test_a_signed_token_that_is_not_a_session_is_401(client, portal, data):
    if isinstance(data, dict) and "portal_id" in data:
        data["portal_id"] = portal.pk if data["portal_id"] == 1 else str(portal.pk)
    token = signing.dumps(data, salt=SALT, compress=True)

    response = client.get("/app/", headers={"X-App-Session": token})
    api = client.get("/api/reports/efficiency/", headers={"X-App-Session": token})

    assert response.status_code == 401
    assert api.status_code in (401, 403)


# -- plan workbooks --------------------------------------------------------------------------


def _month(portal) -> str:
    return timezone.now().astimezone(ZoneInfo(portal.time_zone)).strftime("%Y-%m")


def _plan_book(portal, value) -> BytesIO:
    employee = Employee.objects.for_portal(portal).filter(active=True).order_by("crm_id").first()
    book = Workbook()
    sheet = book.active
    sheet.append(["level", "id", "name", "pipeline_id", "metric", _month(portal)])
    sheet.append(["employee", employee.crm_id, employee.name, None, "won_sum", value])
    buffer = BytesIO()
    book.save(buffer)
    buffer.seek(0)
    buffer.name = "plan.xlsx"
    return buffer


def _upload(client, token, file):
    return client.post("/app/plan/import/", {"file": file}, headers={"X-App-Session": token})


def _with_dtd(book: BytesIO) -> BytesIO:
    """The same workbook whose sheet declares entities (a billion-laughs attempt)."""
    source, result = zipfile.ZipFile(book), BytesIO()
    with zipfile.ZipFile(result, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                declaration = (
                    '<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa">'
                    '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
                )
                text = re.sub(r"(<\?xml[^>]*\?>)", r"\1" + declaration, text, count=1)
                data = text.replace("<v>250000</v>", "<v>&b;</v>").encode()
            target.writestr(item, data)
    result.seek(0)
    result.name = "plan.xlsx"
    return result


@pytest.mark.django_db
def test_a_plan_workbook_with_a_dtd_is_refused(client, portal, admin):
    response = _upload(client, admin, _with_dtd(_plan_book(portal, 250000)))

    assert response.status_code == 400
    assert "xlsx" in response.content.decode()
    assert not Plan.objects.for_portal(portal).exists()


@pytest.mark.django_db
def test_a_formula_without_a_saved_result_is_refused_not_read_as_no_plan(client, portal, admin):
    assert _upload(client, admin, _plan_book(portal, 250000)).status_code == 200
    assert Plan.objects.for_portal(portal).get().value == 250_000_00

    response = _upload(client, admin, _plan_book(portal, "=200000+50000"))

    assert response.status_code == 400
    assert re.search("F2.*(formula|формула)", response.content.decode())
    assert Plan.objects.for_portal(portal).get().value == 250_000_00


@pytest.mark.django_db
def test_an_oversized_upload_is_refused(client, portal, admin):
    huge = BytesIO(b"PK" + b"\0" * 3 * 2**20)  # a plan workbook is a few kilobytes
    huge.name = "plan.xlsx"

    response = _upload(client, admin, huge)

    assert response.status_code == 400
    assert re.search("MB|МБ", response.content.decode())


@pytest.mark.django_db
@pytest.mark.parametrize("hostile", ["formula", "oversized", "dtd"])
def test_the_ad_spend_import_refuses_what_the_plan_import_refuses(client, portal, admin, hostile):
    """The spend grid's workbook goes through the same reader: a formula without a saved
    result, an oversized file or entities are refused, and the stored spend stays."""
    from reports.models import AdSpend

    def book(value) -> BytesIO:
        workbook = Workbook()
        workbook.active.append(["source_id", "source", _month(portal)])
        workbook.active.append(["", "—", value])  # the leads with no source
        buffer = BytesIO()
        workbook.save(buffer)
        buffer.seek(0)
        buffer.name = "spend.xlsx"
        return buffer

    def upload(file):
        return client.post("/app/spend/import/", {"file": file}, headers={"X-App-Session": admin})

    assert upload(book(250000)).status_code == 200, upload(book(250000)).content
    stored = list(AdSpend.objects.for_portal(portal).values_list("amount_cents", flat=True))
    assert stored
    if hostile == "formula":
        file = book("=200000+50000")
    elif hostile == "oversized":
        file = BytesIO(b"PK" + b"\0" * 3 * 2**20)
        file.name = "spend.xlsx"
    else:
        file = _with_dtd(book(250000))
    response = upload(file)
    assert response.status_code == 400
    assert re.search("C2|MB|МБ|xlsx", response.content.decode())
    assert list(AdSpend.objects.for_portal(portal).values_list("amount_cents", flat=True)) == stored
