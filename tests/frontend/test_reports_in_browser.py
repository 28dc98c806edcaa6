"""The reports as people use them: inside the CRM host page, in Chromium, for each role."""

from __future__ import annotations

import pytest
from openpyxl import load_workbook

from crmapp.models import Department, Employee
from tests.conftest import screenshot_path


def _people(portal) -> dict[str, int]:
    head = Department.objects.for_portal(portal).exclude(head=None).exclude(head__crm_id=1)[0]
    manager = (
        Employee.objects.for_portal(portal)
        .filter(active=True, department__isnull=False)
        .exclude(crm_id=1)
        .exclude(pk__in=Department.objects.for_portal(portal).values("head"))[0]
    )
    return {"admin": 1, "head": head.head.crm_id, "manager": manager.crm_id}


def _open_report(page, url: str, user: int, tab: str):
    page.goto(f"{url}/crm-host/?user={user}")
    app = page.frame_locator("iframe#app")
    app.locator(".tabs").get_by_text(tab).click()
    app.locator("#report table").first.wait_for(timeout=60_000)
    return app


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", ["admin", "head", "manager"])
def test_each_role_reads_filters_drills_and_exports_efficiency(
    role, live_portal, browser_page, tmp_path
):
    from crmapp.models import Portal

    page = browser_page
    user = _people(Portal.objects.get())[role]
    app = _open_report(page, live_portal.url, user, "Эффективность")
    rows = app.locator("#report table.report-table").first.locator("tbody tr")
    if role == "manager":
        assert rows.count() == 1
        assert app.locator("select[name=employee]").count() == 0

    # A period preset re-renders the report in place.
    with page.expect_response(lambda r: "/app/reports/efficiency/" in r.url):
        app.locator("select[name=period]").select_option("quarter")
    app.locator("select[name=period] option[value=quarter][selected]").wait_for(state="attached")
    page.screenshot(path=screenshot_path(f"efficiency-{role}.png"), full_page=True)

    # Drill into the won deals of the total and open one in the CRM's slider.
    won = app.locator("tfoot a[hx-get*='what=won_count']").first
    shown = int(won.inner_text().replace("\xa0", "") or 0)
    won.click()
    drill = app.locator("#drill .drill-card")
    drill.wait_for(timeout=60_000)
    assert drill.locator("tbody a[data-crm-path]").count() == shown
    if shown:
        drill.locator("tbody a[data-crm-path]").first.click()
        page.locator("#slider.open").wait_for(timeout=60_000)
        assert "/crm/deal/details/" in page.locator("#slider-path").inner_text()
        page.locator("#slider button").click()

    with page.expect_download() as download:
        app.locator("#report .toolbar a", has_text="Excel").click()
    saved = tmp_path / "efficiency.xlsx"
    download.value.save_as(saved)
    assert load_workbook(saved).worksheets[0].max_row > 4


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", ["admin", "head", "manager"])
def test_each_role_sees_forgotten_deals_with_reasons(role, live_portal, browser_page):
    from crmapp.models import Portal

    page = browser_page
    user = _people(Portal.objects.get())[role]
    app = _open_report(page, live_portal.url, user, "Забытые")
    with page.expect_response(lambda r: "/app/reports/forgotten/" in r.url):
        app.locator("select[name=period]").select_option("quarter")
    app.locator("select[name=period] option[value=quarter][selected]").wait_for(state="attached")
    page.screenshot(path=screenshot_path(f"forgotten-{role}.png"), full_page=True)
    assert app.get_by_text("Забытые лиды и сделки").count() == 1
    assert (app.locator("button", has_text="Напомнить").count() == 0) == (role == "manager")


@pytest.mark.django_db(transaction=True)
def test_reports_fit_a_phone_screen(live_portal, browser_page):
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    for tab, name in (("Эффективность", "efficiency"), ("Забытые", "forgotten"), ("План", "plan")):
        _open_report(page, live_portal.url, 1, tab)
        frame = page.frame(name="app")
        overflow = frame.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        page.screenshot(path=screenshot_path(f"{name}-on-phone.png"), full_page=True)
        assert overflow <= 0, name
