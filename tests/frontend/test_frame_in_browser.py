"""The app's frame inside the CRM host page: it fits its content both ways, and every refused
HTMX request says why where the user acted."""

from __future__ import annotations

import pytest

from reports.models import ReportSettings
from tests.conftest import screenshot_path, wait_until
from tests.frontend.test_reports_in_browser import _open_report


def _frame_height(page) -> int:
    return page.evaluate("document.getElementById('app').offsetHeight")


def _content_height(app) -> int:
    return app.locator("body").evaluate(
        "body => Math.ceil(body.getBoundingClientRect().bottom + window.scrollY)"
    )


@pytest.mark.django_db(transaction=True)
def test_the_frame_shrinks_and_refusals_are_shown_where_the_user_acted(live_portal, browser_page):
    from crmapp.models import Portal

    page = browser_page
    app = _open_report(page, live_portal.url, 1, "Эффективность")
    assert wait_until(lambda: abs(_frame_height(page) - _content_height(app)) <= 2, timeout=30)
    long_page = _frame_height(page)

    # A custom period that ends before it starts: refused, and the page says so.
    with page.expect_response(lambda r: "/app/reports/efficiency/" in r.url):
        app.locator("select[name=period]").select_option("custom")
    app.locator("input[name=from]").wait_for()
    with page.expect_response(lambda r: r.status == 400):
        # Both dates typed, then one change: the request the filter bar sends for them.
        app.locator("form.filters").first.evaluate(
            "form => { form.elements.from.value = '2026-09-30';"
            " form.elements.to.value = '2026-09-01';"
            " form.elements.to.dispatchEvent(new Event('change', {bubbles: true})); }"
        )
    refusal = app.locator(".refusal-line")
    refusal.wait_for(timeout=60_000)
    assert refusal.inner_text().strip()
    page.screenshot(path=screenshot_path("refused-period.png"), full_page=True)

    # Settings is a short page: the frame shrinks to it.
    app.locator(".tabs").get_by_text("Настройки").click()
    app.locator("form.settings-form").wait_for(timeout=60_000)
    assert wait_until(lambda: _frame_height(page) < long_page, timeout=30), long_page
    assert abs(_frame_height(page) - max(480, _content_height(app))) <= 2

    # An impossible reminder time: refused with the field's sentence, nothing saved.
    portal = Portal.objects.get()
    before = ReportSettings.of(portal).digest_at
    app.locator("input[name=digest_at]").fill("25:99")
    with page.expect_response(lambda r: r.status == 400):
        app.locator("form.settings-form button[type=submit]").click()
    app.locator("form.settings-form .error").first.wait_for(timeout=60_000)
    assert ReportSettings.of(portal).digest_at == before
    page.screenshot(path=screenshot_path("refused-settings.png"), full_page=True)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [390, 1280])
def test_big_numbers_stay_inside_their_cards(live_portal, browser_page, width):
    from zoneinfo import ZoneInfo

    from django.utils import timezone

    from crmapp.models import Employee, Portal
    from reports.models import ALL_PIPELINES
    from reports.plan_edit import plan_set
    from reports.plan_input import Cell
    from reports.tv_links import tv_link_create

    portal, now = Portal.objects.get(), timezone.now()
    month = now.astimezone(ZoneInfo(portal.time_zone)).date().replace(day=1)
    seller = Employee.objects.for_portal(portal).filter(active=True).first()
    cell = Cell(month, "employee", seller.crm_id, ALL_PIPELINES, "won_sum")
    plan_set(portal, cell=cell, value=800_000_050, by=1, now=now)  # 8 000 000,50
    link = tv_link_create(portal, name="Офис", by=1, now=now)

    page = browser_page
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_portal.url}/tv/{link.token}/")
    values = page.locator(".tv-totals .value")
    values.first.wait_for(timeout=60_000)
    overflowing = values.evaluate_all(
        "els => els.filter(e => e.scrollWidth > e.parentElement.clientWidth)"
        ".map(e => e.textContent)"
    )
    page.screenshot(path=screenshot_path(f"tv-big-numbers-{width}.png"), full_page=True)
    assert overflowing == []
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.django_db(transaction=True)
def test_a_drill_list_opens_over_the_report_where_the_number_was_clicked(live_portal, browser_page):
    page = browser_page
    app = _open_report(page, live_portal.url, 1, "Эффективность")
    number = app.locator("#report table.report-table").first.locator("tfoot a").last
    clicked = number.evaluate("a => a.getBoundingClientRect().bottom + window.scrollY")
    number.click()
    panel = app.locator("#drill .drill-card")
    panel.wait_for(timeout=60_000)
    top = panel.evaluate("card => card.getBoundingClientRect().top + window.scrollY")
    assert 0 <= top - clicked <= 40, (clicked, top)  # under the number, not pages below
    page.screenshot(path=screenshot_path("drill-panel.png"), full_page=True)
    frame = page.frame(name="app")
    assert frame.evaluate("location.hash").startswith("#drill=")

    # The address reopens it; Escape closes it and forgets it.
    # Wait for the reloaded page's own drill request, not the panel of the page before it.
    with page.expect_response(lambda r: "/drill/" in r.url, timeout=60_000):
        frame.evaluate("location.reload()")
    app.locator("#drill .drill-card").wait_for(timeout=60_000)
    page.keyboard.press("Escape")
    app.locator("#drill .drill-card").wait_for(state="detached", timeout=60_000)
    assert page.frame(name="app").evaluate("location.hash") == ""


@pytest.mark.django_db(transaction=True)
def test_the_efficiency_table_keeps_names_in_view_and_sorts_by_its_headers(
    live_portal, browser_page
):
    page = browser_page
    app = _open_report(page, live_portal.url, 1, "Эффективность")
    table = app.locator("table.efficiency-table")
    assert table.locator("th[aria-sort=descending]").inner_text().startswith("Сумма успешных")

    wrap = app.locator("#report .table-wrap").first
    wrap.evaluate("box => { box.scrollLeft = box.scrollWidth; }")
    name = table.locator("tbody tr td").first
    offset = name.evaluate(
        "td => td.getBoundingClientRect().left"
        " - td.closest('.table-wrap').getBoundingClientRect().left"
    )
    assert abs(offset) <= 2  # the name column stayed while the numbers scrolled
    page.screenshot(path=screenshot_path("efficiency-scrolled.png"))

    with page.expect_response(lambda r: "sort=-calls" in r.url):
        table.locator("th a", has_text="Звонки").click()
    app.locator("table.efficiency-table th[aria-sort=descending]", has_text="Звонки").wait_for()


@pytest.mark.django_db(transaction=True)
def test_a_refused_page_shows_its_message_inside_the_crm(live_portal, browser_page):
    from crmapp.models import Portal
    from tests.frontend.test_report_pages import _manager

    page = browser_page
    manager = _manager(Portal.objects.get())
    page.goto(f"{live_portal.url}/crm-host/?user={manager.crm_id}")
    app = page.frame_locator("iframe#app")
    app.locator(".tabs").wait_for(timeout=60_000)
    frame = page.frame(name="app")
    token = frame.evaluate("document.querySelector('meta[name=app-session]').content")
    frame.goto(f"{live_portal.url}/app/settings/?s={token}")
    app.get_by_text("Менять настройки может только администратор портала.").wait_for(timeout=60_000)
    page.screenshot(path=screenshot_path("refused-page-manager.png"))
