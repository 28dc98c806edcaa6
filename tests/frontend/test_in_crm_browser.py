from __future__ import annotations

import pytest

from tests.conftest import screenshot_path


@pytest.mark.django_db(transaction=True)
def test_it_opens_inside_the_crm_host_page_as_a_head_of_sales(live_portal, browser_page):
    page = browser_page
    page.goto(f"{live_portal.url}/crm-host/?user=1")
    app = page.frame_locator("iframe#app")

    app.get_by_text("История загружена").wait_for(timeout=60_000)
    assert app.locator(".stat .value").first.inner_text().strip() != ""
    assert "Пробный период" in app.locator(".badge").inner_text()
    page.screenshot(path=screenshot_path("app-in-crm-host.png"), full_page=True)

    # The frame asked the portal to fit it to its content (BX24.fitWindow).
    height = page.evaluate("document.getElementById('app').getBoundingClientRect().height")
    assert height >= 480


@pytest.mark.django_db(transaction=True)
def test_it_fits_a_phone_screen(live_portal, browser_page):
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_portal.url}/crm-host/?user=1")
    frame = page.frame(name="app")
    page.frame_locator("iframe#app").get_by_text("История загружена").wait_for(timeout=60_000)

    overflow = frame.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    page.screenshot(path=screenshot_path("app-on-phone.png"), full_page=True)
    assert overflow <= 0
