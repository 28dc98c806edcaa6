"""Real error codes, texts and HTTP statuses, checked with plain requests."""

from __future__ import annotations

from typing import Any

import requests

from integrations.sandbox import Sandbox


def _rest(sandbox: Sandbox, method: str, **params: Any) -> requests.Response:
    return requests.post(f"{sandbox.url}/rest/{method}.json", json=params, timeout=10)


def _token(sandbox: Sandbox, user_id: int = 1) -> str:
    return sandbox.control.placement(user_id)["body"]["AUTH_ID"]


def test_it_answers_no_auth_found(sandbox_bitrix24_fresh: Sandbox) -> None:
    response = _rest(sandbox_bitrix24_fresh, "crm.deal.list")
    assert response.status_code == 401
    assert response.json() == {
        "error": "NO_AUTH_FOUND",
        "error_description": "Wrong authorization data",
    }


def test_it_answers_expired_and_invalid_tokens(sandbox_bitrix24_fresh: Sandbox) -> None:
    token = _token(sandbox_bitrix24_fresh)
    assert _rest(sandbox_bitrix24_fresh, "user.current", auth=token).status_code == 200
    sandbox_bitrix24_fresh.control.expire_tokens()
    expired = _rest(sandbox_bitrix24_fresh, "user.current", auth=token)
    assert expired.status_code == 401
    assert expired.json() == {
        "error": "expired_token",
        "error_description": "The access token provided has expired",
    }
    invalid = _rest(sandbox_bitrix24_fresh, "user.current", auth="nope")
    assert (invalid.status_code, invalid.json()["error"]) == (401, "invalid_token")


def test_it_expires_tokens_when_time_advances(sandbox_bitrix24_fresh: Sandbox) -> None:
    token = _token(sandbox_bitrix24_fresh)
    sandbox_bitrix24_fresh.control.advance_time(3601)
    assert (
        _rest(sandbox_bitrix24_fresh, "user.current", auth=token).json()["error"] == "expired_token"
    )


def test_it_limits_the_request_rate(sandbox_bitrix24_fresh: Sandbox) -> None:
    token = _token(sandbox_bitrix24_fresh)
    sandbox_bitrix24_fresh.control.rate_limit(5, 0.01)
    statuses = [
        _rest(sandbox_bitrix24_fresh, "user.current", auth=token).status_code for _ in range(7)
    ]
    assert statuses[:5] == [200] * 5
    limited = _rest(sandbox_bitrix24_fresh, "user.current", auth=token)
    assert limited.status_code == 503
    assert limited.json() == {
        "error": "QUERY_LIMIT_EXCEEDED",
        "error_description": "Too many requests",
    }


def test_it_denies_admin_methods_to_managers(sandbox_bitrix24_fresh: Sandbox) -> None:
    manager = _token(sandbox_bitrix24_fresh, user_id=7)
    denied = _rest(
        sandbox_bitrix24_fresh,
        "placement.bind",
        auth=manager,
        PLACEMENT="CRM_ANALYTICS_MENU",
        HANDLER="https://x/",
    )
    assert denied.status_code == 403
    assert denied.json()["error"] == "ACCESS_DENIED"
    offline = _rest(
        sandbox_bitrix24_fresh,
        "event.bind",
        auth=manager,
        event="ONCRMDEALADD",
        event_type="offline",
    )
    assert (offline.status_code, offline.json()["error"]) == (403, "ACCESS_DENIED")
    own = _rest(
        sandbox_bitrix24_fresh,
        "event.bind",
        auth=manager,
        event="ONCRMDEALADD",
        handler="https://x/",
    )
    assert own.json()["result"] is True
    assert _rest(sandbox_bitrix24_fresh, "user.admin", auth=manager).json()["result"] is False


def test_it_answers_method_not_found(sandbox_bitrix24_fresh: Sandbox) -> None:
    response = _rest(
        sandbox_bitrix24_fresh, "crm.deal.frobnicate", auth=_token(sandbox_bitrix24_fresh)
    )
    assert response.status_code == 404
    assert response.json() == {
        "error": "ERROR_METHOD_NOT_FOUND",
        "error_description": "Method not found!",
    }


def test_it_rejects_malformed_parameters(sandbox_bitrix24_fresh: Sandbox) -> None:
    token = _token(sandbox_bitrix24_fresh)
    no_id = _rest(sandbox_bitrix24_fresh, "crm.deal.get", auth=token)
    assert (no_id.status_code, no_id.json()) == (
        400,
        {"error": "", "error_description": "ID is not defined or invalid."},
    )
    missing = _rest(sandbox_bitrix24_fresh, "crm.deal.get", auth=token, id=10**9)
    assert missing.json()["error_description"] == "Not found"
    bad_entity = _rest(sandbox_bitrix24_fresh, "crm.stagehistory.list", auth=token, entityTypeId=99)
    assert (bad_entity.status_code, bad_entity.json()["error"]) == (
        400,
        "ENTITY_TYPE_NOT_SUPPORTED",
    )
    bad_filter = _rest(
        sandbox_bitrix24_fresh,
        "crm.stagehistory.list",
        auth=token,
        entityTypeId=2,
        filter={"NOPE": 1},
    )
    assert (bad_filter.status_code, bad_filter.json()["error"]) == (400, "INVALID_ARG_VALUE")
    bad_event = _rest(
        sandbox_bitrix24_fresh, "event.bind", auth=token, event="ONNOTHING", handler="https://x/"
    )
    assert bad_event.json() == {
        "error": "ERROR_EVENT_NOT_FOUND",
        "error_description": "Event not found",
    }
    no_fields = _rest(sandbox_bitrix24_fresh, "crm.deal.add", auth=token)
    assert no_fields.json()["error_description"] == "Parameter 'fields' must be array."


def test_it_rejects_a_used_refresh_token(sandbox_bitrix24_fresh: Sandbox) -> None:
    info = sandbox_bitrix24_fresh.info
    params = {
        "grant_type": "refresh_token",
        "client_id": info["client_id"],
        "client_secret": info["client_secret"],
        "refresh_token": info["install"]["REFRESH_ID"],
    }
    url = f"{info['oauth_url']}/oauth/token/"
    first = requests.get(url, params=params, timeout=10)
    assert first.status_code == 200 and first.json()["refresh_token"] != params["refresh_token"]
    second = requests.get(url, params=params, timeout=10)
    assert second.status_code == 400
    assert second.json() == {"error": "invalid_grant", "error_description": "Invalid grant"}
    wrong = requests.get(url, params={**params, "client_secret": "x"}, timeout=10)
    assert wrong.json()["error"] == "invalid_client"


def test_it_rejects_oversized_and_nested_batches(sandbox_bitrix24_fresh: Sandbox) -> None:
    token = _token(sandbox_bitrix24_fresh)
    commands = {str(i): "user.current" for i in range(51)}
    too_long = _rest(sandbox_bitrix24_fresh, "batch", auth=token, cmd=commands)
    assert (too_long.status_code, too_long.json()["error"]) == (400, "ERROR_BATCH_LENGTH_EXCEEDED")
    nested = _rest(
        sandbox_bitrix24_fresh, "batch", auth=token, cmd={"a": "batch?cmd[x]=user.current"}
    )
    assert nested.json()["result"]["result_error"]["a"]["error"] == "ERROR_BATCH_METHOD_NOT_ALLOWED"


def test_it_halts_batches_on_error_only_when_asked(sandbox_bitrix24_fresh: Sandbox) -> None:
    token = _token(sandbox_bitrix24_fresh)
    commands = {"a": "crm.deal.get?id=0", "b": "crm.deal.get?id=-1", "c": "user.current"}
    go_on = _rest(sandbox_bitrix24_fresh, "batch", auth=token, halt=0, cmd=commands).json()[
        "result"
    ]
    assert set(go_on["result_error"]) == {"a", "b"} and set(go_on["result"]) == {"c"}
    halted = _rest(sandbox_bitrix24_fresh, "batch", auth=token, halt=1, cmd=commands).json()[
        "result"
    ]
    assert set(halted["result_error"]) == {"a"} and halted["result"] == []


def test_it_injects_faults(sandbox_bitrix24_fresh: Sandbox) -> None:
    token = _token(sandbox_bitrix24_fresh)
    sandbox_bitrix24_fresh.control.fault("crm.deal.list", "OPERATION_TIME_LIMIT")
    failed = _rest(sandbox_bitrix24_fresh, "crm.deal.list", auth=token)
    assert (failed.status_code, failed.json()["error"]) == (429, "OPERATION_TIME_LIMIT")
    assert _rest(sandbox_bitrix24_fresh, "crm.deal.list", auth=token).status_code == 200
