"""The morning screen and the activity plan as people use them: inside the CRM host page,
in Chromium."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from crmapp.models import Employee, Portal
from reports.plan_edit import plan_set
from reports.plan_input import Cell
from reports.plan_today import working_days
from reports.tv_links import tv_link_create
from tests.conftest import screenshot_path, wait_until
from tests.frontend.test_plan_pages import _head
from tests.frontend.test_report_pages import _manager


def _month(portal):
    return timezone.now().astimezone(ZoneInfo(portal.time_zone)).date().replace(day=1)


def _no_sideways_scroll(page) -> int:
    frame = page.frame(name="app")
    return frame.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


@pytest.mark.django_db(transaction=True)
def test_a_manager_sees_his_day_on_the_overview(live_portal, browser_page):
    page, portal = browser_page, Portal.objects.get()
    manager, month = _manager(portal), _month(portal)
    calls = 2 * len(working_days(month))  # a day plan of 2 calls
    for metric, value in (("calls", calls), ("won_sum", 800_000_050)):  # 8 000 000,50
        cell = Cell(month, "employee", manager.crm_id, -1, metric)
        plan_set(portal, cell=cell, value=value, by=1, now=timezone.now())

    page.goto(f"{live_portal.url}/crm-host/?user={manager.crm_id}")
    app = page.frame_locator("iframe#app")
    day = app.locator("[data-part=day]")
    day.wait_for(timeout=30_000)
    expect(day.locator("h2")).to_contain_text("Ваш день")
    row = day.locator("tr", has_text="Звонки")
    expect(row.locator("td").nth(1)).to_have_text("2")
    expect(app.locator("[data-part=month] h2")).to_contain_text("Ваш месяц")
    assert app.locator("[data-part=completion-ranking]").count() == 0
    page.screenshot(path=screenshot_path("overview-manager.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=screenshot_path("overview-manager-phone.png"), full_page=True)
    assert _no_sideways_scroll(page) <= 0
    overflowing = app.locator(".morning .value, .morning-tiles .value").evaluate_all(
        "els => els.filter(e => e.scrollWidth > e.parentElement.clientWidth)"
        ".map(e => e.textContent)"
    )
    assert overflowing == []

    # The head of sales' morning: everyone, with the rankings, on a desk and on a phone.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_portal.url}/crm-host/?user=1")
    app = page.frame_locator("iframe#app")
    app.locator("[data-part=activity-ranking]").wait_for(timeout=30_000)
    page.screenshot(path=screenshot_path("overview-admin.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=screenshot_path("overview-admin-phone.png"), full_page=True)
    assert _no_sideways_scroll(page) <= 0
    # A figure leads into its report.
    app.locator("[data-figure=forgotten-deals]").click()
    expect(app.locator("#report h1")).to_contain_text("Забытые", timeout=30_000)


@pytest.mark.django_db(transaction=True)
def test_a_head_edits_an_activity_plan_and_sees_it_on_the_sales_floor_screen(
    live_portal, browser_page
):
    page, portal = browser_page, Portal.objects.get()
    head, department = _head(portal)
    mine = Employee.objects.for_portal(portal).filter(department=department, active=True)[0]
    month = _month(portal)
    link = tv_link_create(portal, name="Офис", by=1, now=timezone.now())

    page.goto(f"{live_portal.url}/crm-host/?user={head}")
    app = page.frame_locator("iframe#app")
    app.locator(".tabs").get_by_text("План", exact=True).click()
    app.locator("#report .score").wait_for(timeout=30_000)
    app.get_by_text("Редактировать план").click()
    app.locator("#plan-grid").wait_for(timeout=15_000)
    with page.expect_response(lambda r: "/app/plan/" in r.url and "metric=meetings" in r.url):
        app.locator("select[name=metric]").select_option("meetings")
    cell = app.locator(f"#cell-employee-{mine.crm_id}-{month:%Y-%m} input")
    cell.wait_for(timeout=15_000)
    meetings = 3 * len(working_days(month))  # a day plan of 3 meetings
    cell.fill(str(meetings))
    with page.expect_response(lambda r: "/app/plan/cell/" in r.url):
        cell.press("Enter")
    assert wait_until(lambda: _stored(portal, mine.crm_id, meetings), timeout=10)

    tv = page.context.browser.new_page(viewport={"width": 1280, "height": 900})
    tv.goto(f"{live_portal.url}/tv/{link.token}/")
    row = tv.locator(f"[data-part=today] tr[data-employee='{mine.crm_id}']")
    expect(row.locator("td[data-col=meetings]")).to_contain_text("/ 3", timeout=20_000)
    # Today on top, the month below it.
    today_box = tv.locator("[data-part=today]").bounding_box()
    month_box = tv.locator("[data-part=month]").bounding_box()
    assert today_box["y"] < month_box["y"]
    expect(tv.locator(f"[data-part=month] tr[data-employee='{mine.crm_id}']")).to_have_count(1)
    tv.screenshot(path=screenshot_path("tv-activity-plan.png"), full_page=True)


def _stored(portal, crm_id: int, value: int) -> bool:
    from reports.models import Plan

    return (
        Plan.objects.for_portal(portal)
        .filter(target_crm_id=crm_id, metric="meetings", value=value)
        .exists()
    )
