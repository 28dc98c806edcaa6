"""The marketing tab inside the CRM host page, as an admin uses it: click a source, drill,
export a block, enter the ad spend and see ROMI follow; and on a phone."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from openpyxl import load_workbook
from playwright.sync_api import expect

from tests.conftest import screenshot_path
from tests.frontend.test_reports_in_browser import _open_report

ROMI_CELL = """table => {
  const column = [...table.querySelectorAll("thead th")].findIndex(
    th => th.textContent.trim() === "ROMI, %");
  return table.querySelector("tbody tr.source-row").children[column].textContent.trim();
}"""


@pytest.mark.django_db(transaction=True)
def test_the_admin_clicks_a_source_drills_exports_and_sees_romi_follow_the_spend(
    live_portal, browser_page, tmp_path
):
    from crmapp.models import Portal
    from reports.models import AdSpend

    page = browser_page
    app = _open_report(page, live_portal.url, 1, "Маркетинг")
    sources = app.locator("table.marketing-sources tbody tr.source-row")
    assert sources.count() > 1
    for block in ("tiles", "sources", "utm", "leads"):
        assert app.locator(f".marketing [class*={block}], .marketing [data-block={block}]").count()
    page.screenshot(path=screenshot_path("marketing.png"), full_page=True)

    # A source's "+" fetches its months once; a second click folds them, a third shows them.
    opener = sources.first.locator("button[data-expands]")
    line = opener.get_attribute("data-expands")
    opener.click()
    months = app.locator(f"tr.month-row[data-parent='{line}']")
    months.first.wait_for()
    assert months.count() >= 1
    opener.click()
    months.first.wait_for(state="hidden")
    opener.click()
    months.first.wait_for()
    # The matrix loads when scrolled to.
    app.locator("#marketing-matrix table").scroll_into_view_if_needed()
    app.locator("#marketing-matrix tbody tr").first.wait_for()

    # A click on a source rebuilds the page for it.
    first = sources.first
    token = first.get_attribute("data-source")
    with page.expect_response(lambda r: "/app/reports/marketing/" in r.url and "source=" in r.url):
        first.locator("a.source").click()
    app.locator("table.marketing-sources tbody tr.source-row").first.wait_for()
    assert app.locator("table.marketing-sources tbody tr.source-row").count() == 1
    frame = page.frame(name="app")
    assert f"source={token}" in frame.evaluate("location.search")

    # Its received number opens the list of those leads.
    received = app.locator("table.marketing-sources tbody tr.source-row td.num a").first
    shown = int(received.inner_text().replace("\xa0", "").replace(" ", ""))
    received.click()
    panel = app.locator("#drill .drill-card")
    panel.wait_for(timeout=60_000)
    assert panel.locator("tbody a[data-crm-path]").count() == min(shown, 500)
    page.keyboard.press("Escape")
    panel.wait_for(state="detached", timeout=60_000)

    # The source table exports alone, with the filters on top.
    with page.expect_download() as download:
        app.locator("a.export-block[data-block=sources]").click()
    saved = tmp_path / "sources.xlsx"
    download.value.save_as(saved)
    sheet = load_workbook(saved).worksheets[0]
    top = [str(c) for row in sheet.iter_rows(max_row=6, values_only=True) for c in row if c]
    assert any(token in cell for cell in top)

    romi_before = app.locator("table.marketing-sources").evaluate(ROMI_CELL)
    assert romi_before == "—"  # no spend yet

    # The admin enters this month's spend; a bad value is refused and nothing is saved.
    app.get_by_role("link", name="Расходы на рекламу").click()
    portal = Portal.objects.get()
    month = timezone.now().astimezone(ZoneInfo(portal.time_zone)).strftime("%Y-%m")
    cell = app.locator(f"#spend-{token}-{month} input")
    cell.wait_for(timeout=60_000)
    with page.expect_response(lambda r: "/app/spend/cell/" in r.url and r.status == 400):
        cell.fill("десять")
        cell.press("Tab")
    app.locator(f"#spend-{token}-{month} .error").wait_for(timeout=60_000)
    assert not AdSpend.objects.for_portal(portal).exists()
    cell = app.locator(f"#spend-{token}-{month} input")
    with page.expect_response(lambda r: "/app/spend/cell/" in r.url and r.status == 200):
        cell.fill("1000")
        cell.press("Tab")
    app.locator(f"#spend-{token}-{month}:not(.invalid)").wait_for(timeout=60_000)
    assert AdSpend.objects.for_portal(portal).get().amount_cents == 100_000
    page.screenshot(path=screenshot_path("marketing-spend.png"), full_page=True)

    # Back on the report for that source, ROMI now has its denominator.
    app.get_by_role("link", name="Вернуться к отчёту «Маркетинг»").click()
    app.locator("table.marketing-sources").wait_for(timeout=60_000)
    with page.expect_response(lambda r: "source=" in r.url):
        app.locator(f"table.marketing-sources tr[data-source='{token}'] a.source").click()
    app.locator("table.marketing-sources tbody tr.source-row").first.wait_for()
    assert app.locator("table.marketing-sources").evaluate(ROMI_CELL) != "—"


@pytest.mark.django_db(transaction=True)
def test_the_marketing_page_fits_a_phone_without_sideways_scroll(live_portal, browser_page):
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    app = _open_report(page, live_portal.url, 1, "Маркетинг")
    app.locator("table.marketing-leads").wait_for(timeout=60_000)
    # Measured once the blocks below the fold are in: a page mid-swap is not what he sees.
    expect(app.locator(".lazy-block")).to_have_count(0, timeout=60_000)
    frame = page.frame(name="app")
    overflow = frame.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    page.screenshot(path=screenshot_path("marketing-on-phone.png"), full_page=True)
    assert overflow <= 0
