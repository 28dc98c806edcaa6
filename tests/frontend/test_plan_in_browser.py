"""The sales plan as people use it: inside the CRM host page, in Chromium."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from crmapp.models import Deal, Employee, Portal
from reports.models import Plan
from tests.conftest import screenshot_path, wait_until
from tests.frontend.test_plan_pages import _head
from tests.frontend.test_report_pages import _manager


def _open_plan(page, url: str, user: int):
    page.goto(f"{url}/crm-host/?user={user}")
    app = page.frame_locator("iframe#app")
    app.locator(".tabs").get_by_text("План", exact=True).click()
    app.locator("#report .score").wait_for(timeout=60_000)
    return app


@pytest.mark.django_db(transaction=True)
def test_a_head_of_sales_edits_the_plan_in_the_crm_and_a_manager_cannot(live_portal, browser_page):
    page, portal = browser_page, Portal.objects.get()
    head, department = _head(portal)
    mine = Employee.objects.for_portal(portal).filter(department=department, active=True)[0]
    month = timezone.now().astimezone(ZoneInfo(portal.time_zone)).strftime("%Y-%m")

    app = _open_plan(page, live_portal.url, head)
    app.get_by_text("Редактировать план").click()
    cell = app.locator(f"#cell-employee-{mine.crm_id}-{month} input")
    cell.wait_for(timeout=60_000)
    cell.fill("150 000")
    with page.expect_response(lambda r: "/app/plan/cell/" in r.url):
        cell.press("Enter")  # saves on leaving the cell and moves down the column
    frame = page.frame(name="app")
    focused = frame.evaluate("document.activeElement.closest('.plan-cell')?.id || ''")
    assert focused and focused != f"cell-employee-{mine.crm_id}-{month}"
    assert wait_until(
        lambda: (
            Plan.objects.for_portal(portal)
            .filter(target_crm_id=mine.crm_id, value=150_000_00)
            .exists()
        ),
        timeout=30,
    )
    # The department's default follows its employees' sum.
    department_cell = app.locator(f"#cell-department-{department.crm_id}-{month} input")
    expect(department_cell).to_have_attribute("placeholder", "150\u00a0000")

    cell = app.locator(f"#cell-employee-{mine.crm_id}-{month} input")
    cell.fill("-5")
    with page.expect_response(lambda r: "/app/plan/cell/" in r.url):
        cell.press("Tab")
    expect(app.locator(f"#cell-employee-{mine.crm_id}-{month} .error")).to_contain_text(
        "не может быть отрицательным"
    )
    page.screenshot(path=screenshot_path("plan-editor-head.png"), full_page=True)
    assert Plan.objects.for_portal(portal).get(target_crm_id=mine.crm_id).value == 150_000_00

    # On a phone the grid scrolls inside its own box, never the page.
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=screenshot_path("plan-editor-on-phone.png"), full_page=True)
    overflow = frame.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    page.set_viewport_size({"width": 1280, "height": 900})

    # A manager sees his score, not the editor.
    manager = _manager(portal)
    app = _open_plan(page, live_portal.url, manager.crm_id)
    assert app.get_by_text("Ваши итоги месяца").count() == 1
    assert app.get_by_text("Редактировать план").count() == 0
    page.screenshot(path=screenshot_path("plan-manager.png"), full_page=True)
    token = page.frame(name="app").evaluate(
        "document.querySelector('meta[name=app-session]').content"
    )
    refused = page.request.post(
        f"{live_portal.url}/app/plan/cell/",
        headers={"X-App-Session": token},
        form={
            "month": month,
            "level": "employee",
            "id": str(manager.crm_id),
            "value": "1",
            "metric": "won_sum",
        },
    )
    assert refused.status == 403


@pytest.mark.django_db(transaction=True)
def test_a_won_deal_moves_the_fact_and_the_sales_floor_screen_within_seconds(
    live_portal, browser_page, bitrix24, tmp_path
):
    page, portal = browser_page, Portal.objects.get()
    app = _open_plan(page, live_portal.url, 1)
    page.screenshot(path=screenshot_path("plan-vs-fact-admin.png"), full_page=True)
    app.get_by_text("Редактировать план").click()

    # The plan goes out to Excel and comes back unchanged.
    with page.expect_download() as download:
        app.locator("#plan-grid a", has_text="Excel").click()
    saved = tmp_path / "plan.xlsx"
    download.value.save_as(saved)
    app.locator("#plan-grid input[type=file]").set_input_files(saved)
    app.locator("#plan-grid button", has_text="Загрузить из Excel").click()
    app.get_by_text("Загружено планов: 0").wait_for(timeout=60_000)

    app.locator("#tv input[name=name]").fill("Офис")
    app.locator("#tv button", has_text="Создать ссылку").click()
    link = app.locator("#tv .tv-url").first
    link.wait_for(timeout=60_000)
    page.screenshot(path=screenshot_path("plan-editor-admin.png"), full_page=True)

    tv = page.context.browser.new_page()
    tv.goto(link.input_value())
    deal = (
        Deal.objects.for_portal(portal)
        .filter(semantic="open", pipeline__crm_id=0, responsible__active=True)
        .select_related("responsible")
        .first()
    )
    seller = deal.responsible.crm_id
    today = tv.locator(f"tr[data-employee='{seller}'] td[data-col=fact_today]")
    before = today.inner_text()
    tv.screenshot(path=screenshot_path("tv-before.png"), full_page=True)

    bitrix24.control.install_finish()  # what the install page's BX24.installFinish() does
    bitrix24.control.update("deals", deal.crm_id, {"STAGE_ID": "WON", "OPPORTUNITY": "777777"})
    expect(today).not_to_have_text(before, timeout=60_000)
    tv.screenshot(path=screenshot_path("tv-after.png"), full_page=True)

    # The plan page counts it too: the seller's fact, opened from the page, lists the deal.
    app = _open_plan(page, live_portal.url, 1)
    app.locator("#report table.plan-fact tfoot a").first.click()
    app.locator(f"#drill a[data-crm-path='/crm/deal/details/{deal.crm_id}/']").wait_for(
        timeout=60_000
    )

    # Revoked, the screen goes dark at its next refresh.
    app = page.frame_locator("iframe#app")
    app.locator(".page-head a", has_text="Редактировать план").click()
    page.once("dialog", lambda dialog: dialog.accept())
    app.locator("#tv button", has_text="Отозвать").first.click()
    app.locator("#tv").get_by_text("Ссылок пока нет.").wait_for(timeout=60_000)
    tv.get_by_text("отозвана").wait_for(timeout=60_000)


@pytest.mark.django_db(transaction=True)
def test_a_head_opens_a_department_then_a_seller_to_his_pipelines(live_portal, browser_page):
    page = browser_page
    app = _open_plan(page, live_portal.url, 1)
    # 90 days, whatever the day of the month: the table loads when scrolled to.
    with page.expect_response(lambda r: "/app/reports/plan/" in r.url):
        app.locator("select[name=period]").select_option("last_90")
    # The new period's page (before, the old page's block could answer and then be swapped out).
    app.locator("select[name=period] option[value=last_90][selected]").wait_for(state="attached")
    app.locator("#plan-period").scroll_into_view_if_needed()
    table = app.locator("#plan-period table")
    table.wait_for(timeout=60_000)
    assert table.locator("tr.level-pipeline").count() == 0  # read when a line is opened
    # A department with a seller who sold in some pipeline (his line has the chevron).
    seller_row = table.locator("tr.level-employee[data-parent]", has=page.locator("button[hx-get]"))
    parent = seller_row.first.get_attribute("data-parent")
    department = table.locator(f"button[data-expands='{parent}']")
    department.click()
    seller = seller_row.first.locator("button[hx-get]")
    expect(seller).to_be_visible()
    line = seller.get_attribute("data-expands")
    with page.expect_response(lambda r: "/block/pipelines/" in r.url):
        seller.click()
    pipelines = table.locator(f"tr.level-pipeline[data-parent='{line}']")
    expect(pipelines.first).to_be_visible(timeout=30_000)
    assert pipelines.count() >= 1
    page.screenshot(path=screenshot_path("plan-pipelines-opened.png"), full_page=True)
    seller.click()  # closes without asking again
    expect(pipelines.first).to_be_hidden()
    seller.click()
    expect(pipelines.first).to_be_visible()
    assert table.locator(f"tr.level-pipeline[data-parent='{line}']").count() == pipelines.count()
    # Closing the department closes its seller's pipelines too.
    department.click()
    expect(pipelines.first).to_be_hidden()
