"""Control API: reset, install finish by the admin's token, app status, key guard."""

from __future__ import annotations

import requests

from integrations.sandbox import Sandbox
from integrations.sandbox.schema import DEAL


def test_it_resets_data_and_installation(sandbox_bitrix24_fresh: Sandbox) -> None:
    store = sandbox_bitrix24_fresh.portal.store
    before, digest = store.count(DEAL), sandbox_bitrix24_fresh.control.digest()
    old_token = sandbox_bitrix24_fresh.info["install"]["AUTH_ID"]
    sandbox_bitrix24_fresh.control.delete("deals", 1)
    sandbox_bitrix24_fresh.control.install_finish()
    assert store.count(DEAL) == before - 1
    info = sandbox_bitrix24_fresh.control.reset()
    assert store.count(DEAL) == before
    assert sandbox_bitrix24_fresh.control.digest() == digest
    assert info["install"]["AUTH_ID"] != old_token
    assert sandbox_bitrix24_fresh.portal.events.install_finished is False


def test_it_lets_the_installing_admin_finish_the_install(sandbox_bitrix24_fresh: Sandbox) -> None:
    info = sandbox_bitrix24_fresh.info
    url = info["control"]["install_finish_url"]
    manager = sandbox_bitrix24_fresh.control.placement(7)["body"]["AUTH_ID"]
    refused = requests.post(url, json={"auth": manager}, timeout=10)
    assert refused.status_code == 403
    accepted = requests.post(url, json={"auth": info["install"]["AUTH_ID"]}, timeout=10)
    assert accepted.json() == {"installed": True}
    app = requests.post(
        f"{sandbox_bitrix24_fresh.url}/rest/app.info", json={"auth": manager}, timeout=10
    ).json()["result"]
    assert app["INSTALLED"] is True


def test_it_guards_control_endpoints(sandbox_bitrix24_fresh: Sandbox) -> None:
    response = requests.get(f"{sandbox_bitrix24_fresh.url}/_sandbox/info", timeout=10)
    assert response.status_code == 403


def test_it_sets_app_status_for_tiers(sandbox_bitrix24_fresh: Sandbox) -> None:
    state = sandbox_bitrix24_fresh.control.set_app(status="T", days=14, payment_expired=False)
    assert (state["status"], state["days"], state["payment_expired"]) == ("T", 14, "N")
    payload = sandbox_bitrix24_fresh.control.placement(1)
    assert payload["body"]["status"] == "T"


def test_it_counts_the_paid_days_down_with_the_portal_clock(
    sandbox_bitrix24_fresh: Sandbox,
) -> None:
    sandbox = sandbox_bitrix24_fresh
    sandbox.control.set_app(status="P", payment_expired=False, days=30)

    def app_info() -> dict:
        auth = sandbox.control.placement(1)["body"]["AUTH_ID"]  # a token valid on the new clock
        response = requests.post(f"{sandbox.url}/rest/app.info", json={"auth": auth}, timeout=10)
        return response.json()["result"]

    assert (app_info()["DAYS"], app_info()["PAYMENT_EXPIRED"]) == (30, "N")
    sandbox.control.advance_time(10 * 86400)
    assert (app_info()["DAYS"], app_info()["PAYMENT_EXPIRED"]) == (20, "N")
    sandbox.control.advance_time(20 * 86400)
    assert (app_info()["DAYS"], app_info()["PAYMENT_EXPIRED"], app_info()["STATUS"]) == (
        0, "Y", "P",
    )  # fmt: skip
