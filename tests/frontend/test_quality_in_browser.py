"""The Errors tab as a manager uses it inside the CRM host page, in Chromium."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from crmapp.models import Department, Employee
from reports.quality import quality
from reports.scope import Viewer, scope_resolve
from tests.conftest import screenshot_path
from tests.frontend.test_reports_in_browser import _open_report


def _manager_with_errors(portal) -> int:
    """An active manager (not a head, not the admin) with errors this month."""
    today = timezone.localdate(timezone=ZoneInfo(portal.time_zone))
    heads = Department.objects.for_portal(portal).values("head")
    managers = (
        Employee.objects.for_portal(portal)
        .filter(active=True, department__isnull=False)
        .exclude(crm_id=1)
        .exclude(pk__in=heads)
        .order_by("crm_id")
        .values_list("crm_id", flat=True)
    )
    for crm_id in managers:
        viewer = Viewer(Viewer.MANAGER, crm_id)
        scope = scope_resolve(portal, viewer, start=today.replace(day=1), end=today)
        if quality(scope, limit=1)["deals"]:
            return crm_id
    raise AssertionError("no manager of the sandbox has a deal with errors")


@pytest.mark.django_db(transaction=True)
def test_a_manager_opens_his_errors_and_a_red_rows_card_opens_in_the_crm(live_portal, browser_page):
    from crmapp.models import Portal

    page = browser_page
    manager = _manager_with_errors(Portal.objects.get())
    app = _open_report(page, live_portal.url, manager, "Ошибки")
    app.get_by_text("Что исправить в моих сделках").first.wait_for()
    row = app.locator("table.quality-deals tbody tr[data-deal]").first
    red = row.locator("td.fail").first
    assert red.get_attribute("title")  # the reason, said in words
    color = red.evaluate("td => getComputedStyle(td).backgroundColor")
    assert color == "rgb(255, 241, 240)"
    deal = row.get_attribute("data-deal")
    assert app.locator("select[name=employee]").count() == 0  # his own deals only
    page.screenshot(path=screenshot_path("quality-manager.png"), full_page=True)

    row.locator("a.card-link").click()
    page.locator("#slider.open").wait_for(timeout=60_000)
    assert page.locator("#slider-path").inner_text().strip() == f"/crm/deal/details/{deal}/"


@pytest.mark.django_db(transaction=True)
def test_the_errors_tab_fits_a_phone_screen(live_portal, browser_page):
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    _open_report(page, live_portal.url, 1, "Ошибки")
    frame = page.frame(name="app")
    overflow = frame.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    page.screenshot(path=screenshot_path("quality-on-phone.png"), full_page=True)
    assert overflow <= 0
