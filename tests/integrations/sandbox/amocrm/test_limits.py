"""amoCRM's limits: 7 requests a second → 429 (JSON or not), repeated overruns → the account
blocked with nginx's 403 page for every request until reset; 402 unpaid; 401 bad tokens."""

from __future__ import annotations

import requests

from .helpers import AmoAPI


def _burst(api: AmoAPI, count: int) -> list[requests.Response]:
    return [api.get("account") for _ in range(count)]


def test_overrunning_gives_429_then_a_sticky_403(amocrm_api: AmoAPI) -> None:
    sandbox = amocrm_api.sandbox
    sandbox.control.request("POST", "rate_limit", {"capacity": 3, "rate": 0, "block_after": 4})
    answers = _burst(amocrm_api, 3)
    assert [a.status_code for a in answers] == [200, 200, 200]
    limited = _burst(amocrm_api, 3)
    assert [a.status_code for a in limited] == [429, 429, 429]
    assert limited[0].headers["Content-Type"].startswith("application/problem+json")
    assert limited[0].json()["status"] == 429 and "retry_after" in limited[0].json()
    fourth = amocrm_api.get("account")
    assert fourth.status_code == 429
    blocked = [amocrm_api.get("account"), amocrm_api.get("leads")]
    for answer in blocked:
        assert answer.status_code == 403
        assert answer.headers["Content-Type"].startswith("text/html")
        assert "<center>nginx</center>" in answer.text
    info = sandbox.info
    token = requests.post(
        f"{sandbox.url}/oauth2/access_token",
        json={
            "client_id": info["client_id"],
            "client_secret": info["client_secret"],
            "grant_type": "refresh_token",
            "refresh_token": amocrm_api.token["refresh_token"],
            "redirect_uri": info["redirect_uri"],
        },
        verify=info["ca_bundle"],
        timeout=30,
    )
    assert token.status_code == 403
    sandbox.reset()
    assert sandbox.control.request("GET", "info")["account_id"] == info["account_id"]


def test_a_429_may_come_without_json(amocrm_api: AmoAPI) -> None:
    amocrm_api.sandbox.control.request(
        "POST", "rate_limit", {"capacity": 1, "rate": 0, "block_after": 100, "body": "text"}
    )
    assert amocrm_api.get("account").status_code == 200
    limited = amocrm_api.get("account")
    assert limited.status_code == 429 and limited.text == "Too Many Requests"


def test_unpaid_blocks_writes_and_events_not_reads(amocrm_api: AmoAPI) -> None:
    amocrm_api.sandbox.control.request("POST", "unpaid", {"unpaid": True})
    assert amocrm_api.get("leads?limit=1").status_code == 200
    assert amocrm_api.get("events?limit=1").status_code == 402
    assert amocrm_api.call("PATCH", "leads/20000003", json={"price": 1}).status_code == 402
    amocrm_api.sandbox.control.request("POST", "unpaid", {"unpaid": False})
    assert amocrm_api.call("PATCH", "leads/20000003", json={"price": 1}).status_code == 200


def test_bad_and_expired_tokens_get_401(amocrm_api: AmoAPI) -> None:
    assert amocrm_api.get("account", headers={"Authorization": "Bearer x"}).status_code == 401
    assert amocrm_api.get("account", headers={"Authorization": ""}).status_code == 401
    amocrm_api.sandbox.control.request("POST", "tokens/expire")
    expired = amocrm_api.get("account")
    assert expired.status_code == 401 and expired.json()["title"] == "Unauthorized"
