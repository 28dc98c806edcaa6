"""The sales dynamics tab as people use it: inside the CRM host page, in Chromium."""

from __future__ import annotations

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from tests.conftest import screenshot_path
from tests.frontend.test_reports_in_browser import _open_report, _people

BLOCKS = (
    "table.sales-table",
    "#dynamics-employees canvas[data-chart]",
    "table.deals-table",
    "table.stage-table",
    "table.durations-table[data-entity=deal]",
    "table.durations-table[data-entity=lead]",
    "[data-tile=month_to_date]",
)


def _quarter(page, app) -> None:
    with page.expect_response(lambda r: "/app/reports/dynamics/" in r.url):
        app.locator("select[name=period]").select_option("quarter")
    app.locator("select[name=period] option[value=quarter][selected]").wait_for(state="attached")


@pytest.mark.django_db(transaction=True)
def test_the_admin_sorts_deals_by_age_drills_a_duration_cell_and_exports(
    live_portal, browser_page, tmp_path
):
    page = browser_page
    app = _open_report(page, live_portal.url, 1, "Динамика")
    _quarter(page, app)

    # Sort the period's deals by age: first the youngest, then the oldest.
    header = app.locator("table.deals-table th[data-column=age_days] a")
    with page.expect_response(lambda r: "sort=-age_days" in r.url or "sort=age_days" in r.url):
        header.click()
    sorted_header = app.locator("table.deals-table th[data-column=age_days]")
    sorted_header.and_(app.locator("[aria-sort=ascending]")).wait_for()
    ages = [float(a) for a in app.locator("table.deals-table td[data-age]").evaluate_all(
        "cells => cells.map(c => c.dataset.age)")]  # fmt: skip
    assert ages and ages == sorted(ages)
    page.screenshot(path=screenshot_path("dynamics-sorted.png"), full_page=True)

    # A stage's total opens to its employees when asked, and closes again.
    chevron = app.locator("table.durations-table button[data-expands]").first
    line = chevron.get_attribute("data-expands")
    with page.expect_response(lambda r: "/block/stage/" in r.url):
        chevron.click()
    employees = app.locator(f"table.durations-table tr[data-parent='{line}']")
    expect(employees.first).to_be_visible()
    table = app.locator(f"table.durations-table:has(button[data-expands='{line}'])")
    table.screenshot(path=screenshot_path("dynamics-stage-opened.png"))
    chevron.click()
    expect(employees.first).to_be_hidden()

    # A duration cell lists the stays it counts.
    cells = app.locator("table.durations-table a[hx-get*='what=stage_exits']")
    cell = next(
        cells.nth(i)
        for i in range(cells.count())
        if 0 < int(cells.nth(i).inner_text().replace("\xa0", "") or 0) <= 500
    )
    shown = int(cell.inner_text().replace("\xa0", ""))
    cell.click()
    drill = app.locator("#drill .drill-card")
    drill.wait_for(timeout=60_000)
    assert drill.locator("tbody a[data-crm-path]").count() == shown

    with page.expect_download() as download:
        app.locator("#report a[href*='table=deals']").click()
    saved = tmp_path / "deals.xlsx"
    download.value.save_as(saved)
    sheet = load_workbook(saved).worksheets[0]
    total = int(app.locator("#period-deals .muted").inner_text().strip("() \xa0"))
    assert sheet.max_row == 3 + 1 + total  # title, period, blank line, header, every deal
    assert total >= len(ages)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", ["head", "manager"])
def test_every_role_sees_every_block_and_a_phone_needs_no_sideways_scroll(
    role, live_portal, browser_page
):
    from crmapp.models import Portal

    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    app = _open_report(page, live_portal.url, _people(Portal.objects.get())[role], "Динамика")
    _quarter(page, app)
    for block in BLOCKS:  # the employees, deals and stage statistics load when scrolled to
        app.locator(block).first.wait_for(state="attached")
        assert app.locator(block).count() == 1, block
    expect(app.locator(".lazy-block")).to_have_count(0)  # measured once every block is in
    frame = page.frame(name="app")
    overflow = frame.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    page.screenshot(path=screenshot_path(f"dynamics-{role}-on-phone.png"), full_page=True)
    assert overflow <= 0
