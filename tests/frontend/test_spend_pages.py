"""The ad-spend editor as the CRM opens it: an admin edits it cell by cell and through .xlsx;
anyone else is refused."""

from __future__ import annotations

from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from crmapp.models import Source
from reports.models import AdSpend, AdSpendChange, ReportSettings
from tests.conftest import open_app
from tests.frontend.test_app_page import _token
from tests.frontend.test_plan_pages import _post
from tests.frontend.test_report_pages import _manager


def _month(portal) -> str:
    return timezone.now().astimezone(ZoneInfo(portal.time_zone)).strftime("%Y-%m")


@pytest.mark.django_db
def test_the_admin_edits_spend_cell_by_cell_and_a_bad_value_changes_nothing(
    client, connected, bitrix24
):
    token = _token(open_app(client, bitrix24, user_id=1))
    page = client.get("/app/spend/", headers={"X-App-Session": token})
    assert page.status_code == 200
    source = Source.objects.for_portal(connected).first()
    assert source.name in page.content.decode()
    month = _month(connected)
    cell = {"month": month, "source": source.crm_id, "value": "45 000,50"}
    saved = _post(client, "/app/spend/cell/", token, cell)
    assert saved.status_code == 200 and "45\u00a0000,50" in saved.content.decode()
    assert AdSpend.objects.for_portal(connected).get().amount_cents == 4_500_050

    refused = _post(client, "/app/spend/cell/", token, cell | {"value": "сорок"})
    assert refused.status_code == 400
    assert 'role="alert"' in refused.content.decode() and "сорок" in refused.content.decode()
    assert AdSpend.objects.for_portal(connected).get().amount_cents == 4_500_050
    assert AdSpendChange.objects.for_portal(connected).count() == 1
    unknown = _post(client, "/app/spend/cell/", token, cell | {"source": "NOPE"})
    assert unknown.status_code == 400 and "NOPE" in unknown.content.decode()
    history = client.get("/app/spend/", headers={"X-App-Session": token}).content.decode()
    assert "45\u00a0000,50" in history  # the change is listed

    # Export, change a cell, import: only that cell changes.
    export = client.get(f"/app/spend/export/?s={token}")
    book = load_workbook(BytesIO(export.content))
    sheet = book.active
    column = [c.value for c in sheet[1]].index(month) + 1
    for row in sheet.iter_rows(min_row=2):
        if row[0].value in (None, ""):  # the "no source" row
            row[column - 1].value = 1000
    changed = BytesIO()
    book.save(changed)
    changed.seek(0)
    changed.name = "spend.xlsx"
    imported = _post(client, "/app/spend/import/", token, {"file": changed})
    assert imported.status_code == 200, imported.content
    stored = dict(
        AdSpend.objects.for_portal(connected).values_list("source_crm_id", "amount_cents")
    )
    assert stored == {source.crm_id: 4_500_050, "": 100_000}

    # The gross margin is set in Settings.
    form = {"lead_days": "3", "deal_days": "14", "digest_at": "", "gross_margin": "35.5",
            "weight_call": "2", "weight_meeting": "5", "weight_email": "1", "weight_task": "1",
            "weight_other": "1"}  # fmt: skip
    assert _post(client, "/app/settings/", token, form).status_code == 200
    assert float(ReportSettings.of(connected).gross_margin) == 35.5
    assert _post(client, "/app/settings/", token, form | {"gross_margin": "120"}).status_code == 400


@pytest.mark.django_db
def test_only_the_admin_enters_spend(client, connected, bitrix24):
    manager = _manager(connected)
    token = _token(open_app(client, bitrix24, user_id=manager.crm_id))
    month = _month(connected)
    source = Source.objects.for_portal(connected).first().crm_id
    assert client.get("/app/spend/", headers={"X-App-Session": token}).status_code == 403
    cell = {"month": month, "source": source, "value": "100"}
    assert _post(client, "/app/spend/cell/", token, cell).status_code == 403
    assert client.get(f"/app/spend/export/?s={token}").status_code == 403
    assert not AdSpend.objects.for_portal(connected).exists()
