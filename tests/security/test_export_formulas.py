"""Text from a CRM is written as text in every export, never as a live formula."""

from __future__ import annotations

from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from crmapp.models import Deal, Employee
from frontend.session import AppSession, session_issue
from reports.export import report_xlsx

PAYLOADS = [
    '=HYPERLINK("http://x","y")',
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "@SUM(1,2)",
]


def _cells(content: bytes):
    book = load_workbook(BytesIO(content))
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            yield from row


def _assert_no_formula(content: bytes) -> set[str]:
    texts = set()
    for cell in _cells(content):
        assert cell.data_type != "f", f"{cell.coordinate} is a formula: {cell.value!r}"
        if isinstance(cell.value, str):
            texts.add(cell.value)
    return texts


def test_the_writer_keeps_formula_looking_text_as_text():
    rows = [{"name": text, "won_count": 1} for text in PAYLOADS]
    rows.append({"name": "bell\x07 and nul\x00", "won_count": 2})

    content = report_xlsx({"employees": rows}, title="=title", filters=[("=filter", "=value")])

    texts = _assert_no_formula(content)
    assert set(PAYLOADS) <= texts
    assert {"=title", "=filter", "=value", "bell and nul"} <= texts
    quoted = [c for c in _cells(content) if c.value in PAYLOADS]
    assert quoted and all(c.quotePrefix for c in quoted)


@pytest.fixture
def hostile(installed):
    """Every deal title and employee name of the portal is a formula someone typed."""
    deals = Deal.objects.for_portal(installed)
    for index, deal in enumerate(deals.only("pk")):
        deals.filter(pk=deal.pk).update(title=PAYLOADS[index % len(PAYLOADS)])
    for index, employee in enumerate(Employee.objects.for_portal(installed)):
        employee.name = f"{PAYLOADS[index % len(PAYLOADS)]}{index}"
        employee.save(update_fields=["name"])
    return installed


@pytest.mark.django_db
def test_every_export_writes_crm_text_as_text(client, hostile):
    token = session_issue(AppSession(portal_id=hostile.pk, user_crm_id=1, role="admin"))
    year = timezone.now().astimezone(ZoneInfo(hostile.time_zone)).year
    urls = [
        "/app/reports/efficiency/?period=all&format=xlsx",
        "/app/reports/forgotten/?period=all&format=xlsx",
        "/app/reports/plan/?period=all&format=xlsx",
        "/app/reports/efficiency/drill/?period=all&what=won_count&format=xlsx",
        "/app/reports/efficiency/drill/?period=all&what=in_work_count&format=xlsx",
        "/app/reports/forgotten/drill/?period=all&what=forgotten_deals&format=xlsx",
        f"/app/plan/export/?year={year}",
    ]
    seen: set[str] = set()
    for url in urls:
        response = client.get(url, headers={"X-App-Session": token})
        assert response.status_code == 200, url
        assert response["Content-Type"].startswith("application/vnd.openxmlformats"), url
        seen |= _assert_no_formula(response.content)

    assert set(PAYLOADS) <= seen  # the deal titles made it into the drill-downs
    assert any(text.startswith("=HYPERLINK") and text[-1].isdigit() for text in seen)
