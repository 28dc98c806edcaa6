from __future__ import annotations

import re
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from openpyxl import load_workbook

from frontend.marketing_context import PAGE_BLOCKS
from reports.marketing import marketing
from reports.scope import Viewer, period_preset, scope_resolve, selection_token
from tests.conftest import open_app
from tests.frontend.test_app_page import _token
from tests.frontend.test_report_pages import _get, _manager

PERIOD = "period=quarter"
BLOCKS = ("sources", "months", "utm", "stages", "funnel", "top", "calls", "leads", "matrix")


def _quarter(portal):
    today = timezone.now().astimezone(ZoneInfo(portal.time_zone)).date()
    return period_preset("quarter", today)


@pytest.mark.django_db
def test_the_admin_reads_every_block_clicks_a_source_drills_and_exports(
    client, installed, bitrix24
):
    token = _token(open_app(client, bitrix24, user_id=1))
    page = _get(client, f"/app/reports/marketing/?{PERIOD}", token)
    assert page.status_code == 200, page.content[:500]
    body = page.content.decode()
    for block in BLOCKS:
        assert f'data-block="{block}"' in body, block
    # Doughnut, stacked states, dynamics; the top five's chart comes with its block, and
    # the blocks below the fold load when scrolled to.
    assert body.count("<canvas") == 3
    for part in PAGE_BLOCKS:
        assert part == "months" or f'id="marketing-{part}" class="lazy-block"' in body, part
    assert 'name="source"' in body and 'name="utm_campaign"' in body

    start, end = _quarter(installed)
    data = marketing(scope_resolve(installed, Viewer.operator(), start=start, end=end))
    row = data["sources"][0]
    token_of = row["id"] or "-"
    # A source row's number drills to as many leads as it says.
    link = re.search(rf'what=received&(?:amp;)?source={re.escape(token_of)}"[^>]*>([\d\xa0]+)<',
                     body)  # fmt: skip
    assert int(link.group(1).replace("\xa0", "")) == row["received"]
    listing = _get(client, f"/app/reports/marketing/drill/?{PERIOD}&what=received"
                   f"&source={token_of}", token)  # fmt: skip
    assert listing.status_code == 200
    assert listing.content.decode().count('data-crm-path="/crm/lead/details/') == min(
        row["received"], 500
    )

    # Clicking the source rebuilds the page for it, with the filter in the address.
    partial = _get(client, f"/app/reports/marketing/?{PERIOD}&source={token_of}", token,
                   HX_Request="true", HX_Target="report")  # fmt: skip
    assert partial.content.decode().strip().startswith('<section id="report" class="marketing">')
    assert f"source={token_of}" in partial["HX-Push-Url"]
    assert partial.content.decode().count('class="source-row"') == 1

    # Each block exports alone with the filters on top; the whole export holds every block.
    one = client.get(f"/app/reports/marketing/?{PERIOD}&source={token_of}&format=xlsx"
                     f"&block=sources&s={token}")  # fmt: skip
    book = load_workbook(BytesIO(one.content))
    assert book.sheetnames == ["Sources"] or book.sheetnames == ["Источники"]
    cells = [c for r in book.worksheets[0].iter_rows(values_only=True) for c in r if c]
    assert token_of in " ".join(map(str, cells))
    every = client.get(f"/app/reports/marketing/?{PERIOD}&format=xlsx&s={token}")
    assert len(load_workbook(BytesIO(every.content)).sheetnames) == len(BLOCKS)
    bad = _get(client, f"/app/reports/marketing/?{PERIOD}&format=xlsx&block=nope", token)
    assert bad.status_code == 400


@pytest.mark.django_db
def test_the_api_serves_the_same_marketing_data_and_drills(client, installed, bitrix24):
    token = _token(open_app(client, bitrix24, user_id=1))
    response = _get(client, f"/api/reports/marketing/?{PERIOD}", token)
    assert response.status_code == 200
    start, end = _quarter(installed)
    expected = marketing(scope_resolve(installed, Viewer.operator(), start=start, end=end))
    assert response.json()["totals"] == pytest.approx(expected["totals"])
    assert response.json()["sources"][0]["id"] == expected["sources"][0]["id"]
    drill = _get(client, f"/api/reports/marketing/drill/?{PERIOD}&what=qualified&limit=2", token)
    assert drill.json()["total"] == expected["totals"]["qualified"]
    assert len(drill.json()["rows"]) == min(2, expected["totals"]["qualified"])
    unknown = _get(client, f"/api/reports/marketing/drill/?{PERIOD}&what=nope", token)
    assert unknown.status_code == 400
    # UTM filters select on the marketing report; the aggregate reports say they cannot.
    utm = _get(client, f"/api/reports/marketing/?{PERIOD}&utm_source=yandex", token)
    assert utm.status_code == 200
    refused = _get(client, f"/app/reports/efficiency/?{PERIOD}&utm_source=yandex", token)
    assert refused.status_code == 400


@pytest.mark.django_db
def test_a_manager_sees_his_own_leads_and_a_head_his_departments(client, installed, bitrix24):
    manager = _manager(installed)
    token = _token(open_app(client, bitrix24, user_id=manager.crm_id))
    page = _get(client, f"/app/reports/marketing/?{PERIOD}", token)
    assert page.status_code == 200
    start, end = _quarter(installed)
    own = marketing(scope_resolve(installed, Viewer(Viewer.MANAGER, manager.crm_id),
                                  start=start, end=end))  # fmt: skip
    api = _get(client, f"/api/reports/marketing/?{PERIOD}", token).json()
    assert api["totals"]["received"] == own["totals"]["received"]
    assert {row["id"] for row in api["matrix"]["employees"]} <= {str(manager.crm_id)}
    assert "/app/spend/" not in page.content.decode()  # spend is the admin's
    assert _get(client, "/app/spend/", token).status_code == 403


@pytest.mark.django_db
def test_a_head_reads_every_block_for_his_departments(client, installed, bitrix24):
    from tests.frontend.test_plan_pages import _head

    head, _department = _head(installed)
    token = _token(open_app(client, bitrix24, user_id=head))
    page = _get(client, f"/app/reports/marketing/?{PERIOD}", token)
    assert page.status_code == 200
    body = page.content.decode()
    for block in BLOCKS:
        assert f'data-block="{block}"' in body, block
    start, end = _quarter(installed)
    from crmapp.models import Department

    headed = Department.objects.for_portal(installed).filter(head__crm_id=head)
    viewer = Viewer(Viewer.HEAD, head, list(headed.values_list("crm_id", flat=True)))
    scope = scope_resolve(installed, viewer, start=start, end=end)
    expected = marketing(scope)
    api = _get(client, f"/api/reports/marketing/?{PERIOD}", token).json()
    assert api["totals"]["received"] == expected["totals"]["received"]
    everyone = marketing(scope_resolve(installed, Viewer.operator(), start=start, end=end))
    assert api["totals"]["received"] < everyone["totals"]["received"]
    assert {row["id"] for row in api["matrix"]["employees"]} <= {str(e) for e in scope.employees}


@pytest.mark.django_db
def test_a_month_a_calls_cell_and_a_matrix_cell_drill_to_as_many_as_they_say(
    client, installed, bitrix24
):
    token = _token(open_app(client, bitrix24, user_id=1))
    body = _get(client, f"/app/reports/marketing/?{PERIOD}", token).content.decode()
    # A source's months and the matrix come as blocks of their own, under the page's filters.
    months = re.findall(r'hx-get="(/app/reports/marketing/block/months/\?[^"]+)"', body)
    matrix = re.search(r'hx-get="(/app/reports/marketing/block/matrix/\?[^"]+)"', body).group(1)
    assert months and 'hx-trigger="revealed"' in body and "month-row" not in body
    for url in [*months, matrix]:
        block = _get(client, url.replace("&amp;", "&"), token, **{"HX-Request": "true"})
        assert block.status_code == 200
        body += block.content.decode()
    for what, path in (("received&(?:amp;)?period=custom", "/crm/lead/details/"),
                       ("calls&(?:amp;)?period=custom", "/crm/"),
                       ("status:[^&]+&(?:amp;)?employee=", "/crm/lead/details/")):  # fmt: skip
        links = re.findall(rf'hx-get="([^"]*what={what}[^"]*)"[^>]*>([\d\xa0]+)<', body)
        assert links, what
        url, shown = max(links, key=lambda link: int(link[1].replace("\xa0", "")))
        listing = _get(client, url.replace("&amp;", "&"), token).content.decode()
        assert listing.count(f'data-crm-path="{path}') == int(shown.replace("\xa0", "")), what


@pytest.mark.django_db
def test_a_sources_months_block_holds_the_reports_month_rows_and_needs_one_source(
    client, installed, bitrix24
):
    token = _token(open_app(client, bitrix24, user_id=1))
    today = timezone.now().astimezone(ZoneInfo(installed.time_zone)).date()
    start, end = period_preset("quarter", today)
    months = marketing(scope_resolve(installed, Viewer.operator(), start=start, end=end))["months"]
    source = max(months, key=lambda row: row["received"])["id"]
    url = f"/app/reports/marketing/block/months/?{PERIOD}&source={selection_token(source)}"
    block = _get(client, url, token, **{"HX-Request": "true"}).content.decode()
    shown = re.findall(r'<tr class="month-row" data-parent="src-[^"]+">', block)
    assert len(shown) == sum(1 for row in months if row["id"] == source) > 0
    refused = _get(client, f"/app/reports/marketing/block/months/?{PERIOD}", token)
    assert refused.status_code == 400

    # Stage reach and the UTM tree, loaded when scrolled to, hold the report's rows.
    report = marketing(scope_resolve(installed, Viewer.operator(), start=start, end=end))
    hx = {"HX-Request": "true"}
    stages = _get(client, f"/app/reports/marketing/block/stages/?{PERIOD}", token, **hx)
    reached = re.findall(
        r'what=reached:[^"]*" hx-target="#drill">([\d\xa0]+)<', stages.content.decode()
    )
    assert [int(n.replace("\xa0", "")) for n in reached] == [s["reached"] for s in report["stages"]]
    top = _get(client, f"/app/reports/marketing/block/top/?{PERIOD}", token, **hx).content.decode()
    assert all(f">{row['name']}</td>" in top for row in report["top"]["sources"])
    assert top.count("data-chart=") == 1
    utm = _get(client, f"/app/reports/marketing/block/utm/?{PERIOD}", token, **hx).content.decode()
    assert len(re.findall(r'<tr class="utm-level-', utm)) == len(report["utm"]) > 0
