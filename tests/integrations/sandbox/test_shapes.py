"""The sandbox answers with the same keys (recursively) as the real sample payloads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
import requests

from integrations.sandbox import Sandbox

from .receiver import EventReceiver

FIXTURES = Path(__file__).resolve().parents[3] / ".." / "shared" / "crm" / "fixtures"


def _fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def _form_keys(name: str) -> set[str]:
    lines = [
        line
        for line in (FIXTURES / name).read_text().splitlines()
        if line and not line.startswith("#")
    ]
    keys: set[str] = set()
    for line in lines:
        if line.startswith("POST "):
            keys |= {k for k, _ in parse_qsl(line.split("?", 1)[1].split(" ")[0])}
        else:
            keys |= {k for k, _ in parse_qsl(line, keep_blank_values=True)}
    return keys


def _shape(value: Any) -> Any:
    """Keys of dicts recursively; lists become the union shape of their items."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items() if k != "time"}
    if isinstance(value, list):
        merged: dict[str, Any] = {}
        for item in value:
            shape = _shape(item)
            if isinstance(shape, dict):
                merged.update(shape)
        return [merged] if merged else []
    return None


def _call(sandbox: Sandbox, method: str, **params: Any) -> Any:
    token = sandbox.control.placement(1)["body"]["AUTH_ID"]
    response = requests.post(
        f"{sandbox.url}/rest/{method}.json", json={**params, "auth": token}, timeout=10
    )
    return response.json()


def _assert_time(payload: dict[str, Any], fixture: dict[str, Any]) -> None:
    assert set(fixture["time"]) <= set(payload["time"])


def test_it_shapes_deal_get_like_the_docs(sandbox_bitrix24_fresh: Sandbox) -> None:
    fixture = _fixture("bitrix24_crm_deal_get_response.json")
    payload = _call(sandbox_bitrix24_fresh, "crm.deal.get", id=1)
    expected = set(fixture["result"]) - {"PARENT_ID_1220"}  # smart-process link field; none here
    assert set(payload["result"]) == expected
    assert set(payload) == set(fixture)
    _assert_time(payload, fixture)


def test_it_shapes_deal_list_like_the_docs(sandbox_bitrix24_fresh: Sandbox) -> None:
    fixture = _fixture("bitrix24_crm_deal_list_response.json")
    select = list(fixture["result"][0])
    payload = _call(
        sandbox_bitrix24_fresh, "crm.deal.list", select=select, filter={"@ID": [1, 2, 3, 4, 5, 6]}
    )
    assert _shape(payload) == _shape(fixture)
    assert all(isinstance(v, str) for v in payload["result"][0].values())


def test_it_shapes_lead_get_like_the_docs(sandbox_bitrix24_fresh: Sandbox) -> None:
    fixture = _fixture("bitrix24_crm_lead_get_response.json")
    payload = _call(sandbox_bitrix24_fresh, "crm.lead.get", id=2)
    lead_keys, expected = set(payload["result"]), set(fixture["result"])
    assert expected - {"IM"} <= lead_keys  # IM (open-line chats) are not generated
    assert lead_keys - expected <= {"EMAIL"}
    assert _shape(payload["result"]["PHONE"]) == _shape(fixture["result"]["PHONE"])


@pytest.mark.parametrize(
    ("fixture_name", "method", "params"),
    [
        ("bitrix24_crm_activity_list_response.json", "crm.activity.list", {}),
        (
            "bitrix24_crm_stagehistory_list_response.json",
            "crm.stagehistory.list",
            {"entityTypeId": 2, "filter": {"OWNER_ID": 1}},
        ),
        ("bitrix24_crm_category_list_response.json", "crm.category.list", {"entityTypeId": 2}),
        (
            "bitrix24_crm_status_list_DEAL_STAGE_response.json",
            "crm.status.list",
            {"filter": {"ENTITY_ID": "DEAL_STAGE"}},
        ),
        ("bitrix24_user_get_response.json", "user.get", {"filter": {"@ID": [1, 3]}}),
        (
            "bitrix24_event_bind_response.json",
            "event.bind",
            {"event": "ONCRMDEALADD", "handler": "https://x/h/"},
        ),
    ],
)
def test_it_shapes_lists_like_the_docs(
    sandbox_bitrix24_fresh: Sandbox, fixture_name: str, method: str, params: dict[str, Any]
) -> None:
    fixture = _fixture(fixture_name)
    payload = _call(sandbox_bitrix24_fresh, method, **params)
    assert _shape(payload) == _shape(fixture)
    _assert_time(payload, fixture)


def test_it_shapes_departments_like_the_docs(sandbox_bitrix24_fresh: Sandbox) -> None:
    fixture = _fixture("bitrix24_department_get_response.json")
    payload = _call(sandbox_bitrix24_fresh, "department.get", PARENT=1)
    ours, theirs = _shape(payload)["result"][0], _shape(fixture)["result"][0]
    assert set(ours) - set(theirs) == {"UF_HEAD"}  # documented as optional
    assert set(theirs) <= set(ours)
    assert isinstance(payload["result"][0]["SORT"], int)


def test_it_shapes_batches_like_the_docs(sandbox_bitrix24_fresh: Sandbox) -> None:
    ok = _call(
        sandbox_bitrix24_fresh,
        "batch",
        halt=0,
        cmd={
            "get_user": "user.current",
            "get_department": "department.get?ID=$result[get_user][UF_DEPARTMENT][0]",
        },
    )
    fixture = _fixture("bitrix24_batch_response.json")
    assert set(ok["result"]) == set(fixture["result"])
    assert set(ok["result"]["result_time"]["get_user"]) >= set(
        fixture["result"]["result_time"]["get_user"]
    )
    assert set(ok["result"]["result"]["get_user"]) >= set(fixture["result"]["result"]["get_user"])
    failed = _call(
        sandbox_bitrix24_fresh, "batch", halt=1, cmd={"a": "crm.deal.get", "b": "crm.deal.get"}
    )
    halted = _fixture("bitrix24_batch_error_halt1_response.json")["result"]
    assert {k: v for k, v in failed["result"].items() if k != "result_error"} == {
        k: v for k, v in halted.items() if k != "result_error"
    }
    assert list(failed["result"]["result_error"]) == ["a"]
    assert set(failed["result"]["result_error"]["a"]) == set(halted["result_error"]["get_user"])


def test_it_shapes_errors_and_oauth_like_the_docs(sandbox_bitrix24_fresh: Sandbox) -> None:
    info = sandbox_bitrix24_fresh.info
    error = requests.post(f"{sandbox_bitrix24_fresh.url}/rest/user.current", timeout=10).json()
    assert set(error) == set(_fixture("bitrix24_error_NO_AUTH_FOUND.json"))
    params = {
        "grant_type": "refresh_token",
        "client_id": info["client_id"],
        "client_secret": info["client_secret"],
        "refresh_token": info["install"]["REFRESH_ID"],
    }
    refreshed = requests.get(f"{info['oauth_url']}/oauth/token/", params=params, timeout=10).json()
    assert set(refreshed) == set(_fixture("bitrix24_oauth_refresh_response.json"))
    assert refreshed["domain"] == "oauth.bitrix.info"
    assert set(_fixture("bitrix24_oauth_authorization_code_response.json")) <= set(refreshed)
    again = requests.get(f"{info['oauth_url']}/oauth/token/", params=params, timeout=10).json()
    assert set(again) == set(_fixture("bitrix24_oauth_error_invalid_grant.json"))


def test_it_shapes_install_and_placement_payloads_like_captures(
    sandbox_bitrix24_fresh: Sandbox,
) -> None:
    install = set(sandbox_bitrix24_fresh.info["install"])
    assert _form_keys("bitrix24_placement_DEFAULT_install_real.txt") <= install
    tab = sandbox_bitrix24_fresh.control.placement(7, "CRM_DEAL_DETAIL_TAB", {"ID": "8061"})
    assert set(tab["query"]) | set(tab["body"]) == _form_keys(
        "bitrix24_placement_CRM_DEAL_DETAIL_TAB.txt"
    )


def test_it_shapes_crm_events_like_the_real_capture(sandbox_bitrix24_fresh: Sandbox) -> None:
    receiver = EventReceiver()
    try:
        _call(sandbox_bitrix24_fresh, "event.bind", event="ONCRMDEALADD", handler=receiver.url)
        sandbox_bitrix24_fresh.control.install_finish()
        sandbox_bitrix24_fresh.control.create("deals", {"TITLE": "Shape"})
        sandbox_bitrix24_fresh.control.wait_events()
        receiver.wait_for(1)
        keys = {k for k, _ in receiver.bodies[0]}
    finally:
        receiver.stop()
    real = _form_keys("bitrix24_event_ONCRMCONTACTADD_real.txt")
    assert keys == real
    documented = _form_keys("bitrix24_event_ONCRMDEALADD.txt") - {"auth[refresh_token]"}
    assert documented <= keys
