from __future__ import annotations

import html
import re
from io import BytesIO
from urllib.parse import parse_qs, urlsplit

import pytest
from openpyxl import load_workbook

from reports.dynamics import TABLES
from tests.conftest import open_app
from tests.frontend.test_app_page import _token
from tests.frontend.test_report_pages import _get, _manager

PERIOD = "period=quarter"
URL = "/app/reports/dynamics/"


def _links(body: str, what: str) -> list[tuple[str, int]]:
    """(drill address, number shown) of every link of one kind on the page."""
    found = re.findall(
        r'hx-get="(/app/reports/dynamics/drill/\?[^"]*what=' + what + r'[^"]*)"[^>]*>([\d\xa0]+)<',
        body,
    )
    return [(html.unescape(url), int(shown.replace("\xa0", ""))) for url, shown in found]


def _listed(client, url: str, token: str) -> int:
    drill = _get(client, url, token)
    assert drill.status_code == 200, drill.content[:300]
    body = drill.content.decode()
    return body.count('data-crm-path="/crm/deal/details/') + body.count(
        'data-crm-path="/crm/lead/details/'
    )


@pytest.mark.django_db
def test_the_admin_sees_every_block_and_every_number_drills_to_as_many(client, installed, bitrix24):
    token = _token(open_app(client, bitrix24, user_id=1))
    page = _get(client, f"{URL}?{PERIOD}", token)
    assert page.status_code == 200
    body = page.content.decode()
    for block in ("Динамика продаж", "Сделки периода", "Статистика по стадиям",
                  "Длинные циклы", "Время в стадиях", 'class="tab active"'):  # fmt: skip
        assert block in body, block
    assert ">Динамика<" in body  # the tab
    # The employees load when scrolled to, and page in place keeping the charted metric.
    lazy = re.search(r'hx-get="(/app/reports/dynamics/block/employees/\?[^"]+)"', body).group(1)
    employees = _get(client, html.unescape(lazy), token, HX_Request="true")
    assert employees.status_code == 200, employees.content[:300]
    employees = employees.content.decode()
    assert employees.startswith('\n<div id="dynamics-employees">') and "data-chart=" in employees
    body += employees
    checked = 0
    for what in ("created_leads", "won_count", "period_deals", "stage_exits", "stage_now",
                 "long_cycles", "converted_leads"):  # fmt: skip
        for url, shown in _links(body, what)[:3]:
            if shown <= 500:
                assert _listed(client, url, token) == shown, url
                checked += 1
    assert checked >= 8
    assert body.count('<tr class="total">') >= 2  # a total row per stage

    # A click on an employee rebuilds the whole page for him.
    employee = re.search(r'class="employee" hx-get="[^"]*employee=(\d+)"', body).group(1)
    rebuilt = _get(client, f"{URL}?{PERIOD}&employee={employee}", token,
                   HX_Request="true", HX_Target="report")  # fmt: skip
    assert set(re.findall(r"employee=(\d+)", rebuilt.content.decode())) == {employee}


def _stage_blocks(client, body: str, token: str) -> list[tuple[dict, str]]:
    """Each stage's employees as its row's button loads them: (the block's query, its HTML)."""
    urls = re.findall(r'hx-get="(/app/reports/dynamics/block/stage/\?[^"]*)"', body)
    blocks = []
    for url in map(html.unescape, urls):
        block = _get(client, url, token, HX_Request="true")
        assert block.status_code == 200, block.content[:300]
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}
        blocks.append((query, block.content.decode()))
    return blocks


@pytest.mark.django_db
def test_a_stage_opens_to_its_employees_as_the_api_splits_it(client, installed, bitrix24):
    token = _token(open_app(client, bitrix24, user_id=1))
    body = _get(client, f"{URL}?{PERIOD}", token).content.decode()
    durations = body[body.index("durations-table") :]
    assert "data-parent=" not in durations  # the stages' totals alone
    api = client.get(f"/api/reports/dynamics/?{PERIOD}", headers={"X-App-Session": token}).json()
    blocks = _stage_blocks(client, body, token)
    assert len(blocks) >= 4
    for query, block in blocks:
        split = [
            row
            for row in api["durations"][query["entity"]]
            if row["employee_id"] is not None
            and (row["pipeline_id"] or "") == query["pipeline"]
            and row["stage_id"] == query["stage"]
        ]
        shown = re.findall(r'data-parent="[^"]*"[^>]*>.*?</tr>', block, re.S)
        assert len(shown) == len(split) >= 1, query
        for row, html_row in zip(split, shown, strict=True):
            assert f"employee={row['employee_id']}" in html_row or row["employee_id"] == "0"
    assert any('class="num slow"' in block for _, block in blocks)  # a bottleneck is marked

    unknown = _get(client, f"{URL}block/stage/?{PERIOD}&entity=task&stage=NEW", token)
    assert unknown.status_code == 400
    assert "стадию" in unknown.content.decode()


@pytest.mark.django_db
def test_deals_sort_and_filter_by_age_and_tables_export_with_their_filters(
    client, installed, bitrix24
):
    token = _token(open_app(client, bitrix24, user_id=1))
    filters = f"{PERIOD}&sort=age_days&age_min=5&age_max=40"
    page = _get(client, f"{URL}?{filters}", token, HX_Request="true", HX_Target="report")
    body = page.content.decode()
    assert body.strip().startswith('<section id="report" class="dynamics">')
    assert "age_min=5" in page["HX-Push-Url"]
    # The deals come as a block of their own, with the page's sort and age filter.
    block = re.search(r'hx-get="(/app/reports/dynamics/block/deals/\?[^"]+)"', body).group(1)
    assert "sort=age_days" in block and "age_min=5" in block
    body = _get(client, block.replace("&amp;", "&"), token, HX_Request="true").content.decode()
    ages = [float(a) for a in re.findall(r'data-age="([\d.]+)"', body)]
    assert ages and ages == sorted(ages) and 5 <= ages[0] and ages[-1] <= 40

    export = client.get(f"{URL}?{PERIOD}&age_min=5&age_max=40&format=xlsx&table=deals&s={token}")
    assert export.status_code == 200
    book = load_workbook(BytesIO(export.content))
    assert len(book.worksheets) == 1
    sheet = book.worksheets[0]
    cells = [[c for c in row if c is not None] for row in sheet.iter_rows(values_only=True)]
    assert any("5" in map(str, row) for row in cells[:6])  # the filters on top
    total = int(re.search(r'id="period-deals-count" hx-swap-oob="true">\((\d+)\)', body).group(1))
    assert total >= len(ages)
    assert sheet.max_row - 5 - 1 == total  # title, period, 2 filters, blank, header

    whole = client.get(f"{URL}?{PERIOD}&format=xlsx&s={token}")
    whole = load_workbook(BytesIO(whole.content))
    assert len(whole.sheetnames) == len(TABLES) == 10
    # Each block's own button exports its one table (reading only the parts it needs), the
    # same rows as that table's sheet of the whole file.
    for table, sheet in zip(TABLES, whole.worksheets, strict=True):
        one = client.get(f"{URL}?{PERIOD}&format=xlsx&table={table}&s={token}")
        book = load_workbook(BytesIO(one.content))
        assert len(book.worksheets) == 1 and book.worksheets[0].title == sheet.title, table
        assert book.worksheets[0].max_row == sheet.max_row > 6, table

    bad = _get(client, f"{URL}?{PERIOD}&age_min=abc", token)
    assert bad.status_code == 400
    bad = _get(client, f"{URL}drill/?{PERIOD}&what=stage_exits", token)
    assert bad.status_code == 400


@pytest.mark.django_db
def test_a_manager_sees_his_own_dynamics_and_the_api_gives_the_same_data(
    client, installed, bitrix24
):
    manager = _manager(installed)
    token = _token(open_app(client, bitrix24, user_id=manager.crm_id))
    page = _get(client, f"{URL}?{PERIOD}", token)
    assert page.status_code == 200
    body = page.content.decode()
    employees = set(re.findall(r"&(?:amp;)?employee=(\d+)", body))
    assert employees <= {str(manager.crm_id)}
    api = client.get(f"/api/reports/dynamics/?{PERIOD}", headers={"X-App-Session": token})
    assert api.status_code == 200
    data = api.json()
    assert {row["id"] for row in data["employees"]} <= {str(manager.crm_id)}
    for rows in data["durations"].values():
        assert {row["employee_id"] for row in rows} <= {str(manager.crm_id), None}
    for _query, block in _stage_blocks(client, body, token):
        assert set(re.findall(r"&(?:amp;)?employee=(\d+)", block)) <= {str(manager.crm_id)}
    other = _get(client, f"{URL}?{PERIOD}&employee=1", token)
    assert other.status_code == 403
    drill = client.get(
        f"/api/reports/dynamics/drill/?{PERIOD}&what=period_deals&state=won",
        headers={"X-App-Session": token},
    )
    assert drill.json()["total"] == data["stage_totals"]["won"]["count"]
    # The stage statistics, loaded when scrolled to, say what the API says, for him alone.
    stages = _get(client, f"{URL}block/stages/?{PERIOD}", token, HX_Request="true")
    totals = re.findall(r'what=period_deals&state=(\w+)&age_min=&age_max=" hx-target="#drill">'
                        r"([\d\xa0]+)<", stages.content.decode())  # fmt: skip
    assert {state: int(n.replace("\xa0", "")) for state, n in totals} == {
        state: numbers["count"] for state, numbers in data["stage_totals"].items()
    }
