"""The app inside amoCRM, as people use it: the account page frames it through the widget's
session call; each role reads his numbers, drills into one and opens the deal's card."""

from __future__ import annotations

import re

import pytest

from tests.conftest import screenshot_path
from tests.integrations.amocrm.test_install import users


def _people(account) -> dict[str, int]:
    return {
        "admin": users(account, is_admin=True)[0],
        "head": users(account, is_admin=False, view="G")[0],
        "manager": users(account, is_admin=False, view="M")[0],
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", ["admin", "head", "manager"])
def test_each_role_opens_the_app_in_amocrm_drills_and_opens_a_card(
    role, amo_live, amo_account, browser_page
):
    # The card is the sandbox account's own page, on its test CA's HTTPS.
    context = browser_page.context.browser.new_context(
        ignore_https_errors=True, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(60_000)
    page = context.new_page()
    user = _people(amo_account)[role]
    page.goto(f"{amo_live.url}/crm-host/amocrm/?user={user}")
    app = page.frame_locator("iframe#app")
    app.locator("[data-part=crm-caveat]").first.wait_for()
    assert "считаются по сделкам" in app.locator("[data-part=crm-caveat]").first.inner_text()

    app.locator(".tabs").get_by_text("Эффективность").click()
    app.locator("#report table").first.wait_for()
    rows = app.locator("#report table.report-table").first.locator("tbody tr")
    if role == "manager":
        assert rows.count() == 1
    app.locator("select[name=period]").select_option("all")
    app.locator("select[name=period] option[value=all][selected]").wait_for(state="attached")
    page.screenshot(path=screenshot_path(f"amocrm-efficiency-{role}.png"), full_page=True)

    won = app.locator("tfoot a[hx-get*='what=won_count']").first
    shown = int(won.inner_text().replace("\xa0", "") or 0)
    assert shown > 0
    won.click()
    drill = app.locator("#drill .drill-card")
    drill.wait_for()
    link = drill.locator("tbody a[data-crm-path]").first
    lead = re.search(r"/leads/detail/(\d+)", link.get_attribute("href")).group(1)
    link.click()
    page.wait_for_url(f"https://{amo_account.info['domain']}/leads/detail/{lead}")
    assert page.locator(f"body[data-lead='{lead}'] h1").inner_text()
    context.close()
