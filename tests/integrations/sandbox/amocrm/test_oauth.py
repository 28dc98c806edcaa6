"""OAuth 2 as amoCRM does it, driven by requests-oauthlib; the widget's one-time JWT with PyJWT."""

from __future__ import annotations

import hashlib
import hmac

import jwt
import pytest
import requests
from requests_oauthlib import OAuth2Session

from integrations.sandbox import Sandbox

from .helpers import AmoAPI, HookReceiver


def _session(sandbox: Sandbox) -> OAuth2Session:
    return OAuth2Session(sandbox.info["client_id"], redirect_uri=sandbox.info["redirect_uri"])


def _fetch(sandbox: Sandbox, code: str) -> dict:
    info = sandbox.info
    return _session(sandbox).fetch_token(
        f"{sandbox.url}/oauth2/access_token",
        code=code,
        client_secret=info["client_secret"],
        include_client_id=True,
        verify=info["ca_bundle"],
    )


def _refresh(sandbox: Sandbox, refresh_token: str) -> requests.Response:
    info = sandbox.info
    return requests.post(
        f"{sandbox.url}/oauth2/access_token",
        data={"client_id": info["client_id"], "client_secret": info["client_secret"],
              "grant_type": "refresh_token", "refresh_token": refresh_token,
              "redirect_uri": info["redirect_uri"]},
        verify=info["ca_bundle"], timeout=30,
    )  # fmt: skip


def _account(sandbox: Sandbox, access: str) -> requests.Response:
    return requests.get(
        f"{sandbox.url}/api/v4/account",
        headers={"Authorization": f"Bearer {access}"},
        verify=sandbox.info["ca_bundle"],
        timeout=30,
    )


def test_a_code_round_trip_with_rotation_and_a_revoked_reuse(amocrm: Sandbox) -> None:
    token = _fetch(amocrm, amocrm.info["install"]["code"])
    assert token["token_type"] == "Bearer" and token["expires_in"] == 86400
    assert _account(amocrm, token["access_token"]).status_code == 200

    info = amocrm.info
    rotated = _session(amocrm).refresh_token(
        f"{amocrm.url}/oauth2/access_token",
        refresh_token=token["refresh_token"],
        client_id=info["client_id"],
        client_secret=info["client_secret"],
        redirect_uri=info["redirect_uri"],
        verify=info["ca_bundle"],
    )
    assert rotated["refresh_token"] != token["refresh_token"]
    assert _account(amocrm, rotated["access_token"]).status_code == 200

    reused = _refresh(amocrm, token["refresh_token"])
    assert reused.status_code == 401
    assert reused.json()["hint"] == "Token has been revoked"
    assert reused.json()["type"] == "https://developers.amocrm.ru/v3/errors/OAuthProblemJson"
    assert _refresh(amocrm, rotated["refresh_token"]).status_code == 200


def _code_answer(sandbox: Sandbox, code: str) -> requests.Response:
    info = sandbox.info
    return requests.post(
        f"{sandbox.url}/oauth2/access_token",
        json={"client_id": info["client_id"], "client_secret": info["client_secret"],
              "grant_type": "authorization_code", "code": code,
              "redirect_uri": info["redirect_uri"]},
        verify=info["ca_bundle"], timeout=30,
    )  # fmt: skip


def test_codes_are_single_use_and_last_twenty_minutes(amocrm: Sandbox) -> None:
    code = amocrm.info["install"]["code"]
    _fetch(amocrm, code)
    again = _code_answer(amocrm, code)
    assert again.status_code == 400 and again.json()["title"] == "Некорректный запрос"
    in_time = amocrm.control.request("POST", "authorize")["code"]
    late = amocrm.control.request("POST", "authorize")["code"]
    amocrm.control.request("POST", "time", {"advance_seconds": 20 * 60 - 30})
    assert _code_answer(amocrm, in_time).status_code == 200
    amocrm.control.request("POST", "time", {"advance_seconds": 60})
    assert _code_answer(amocrm, late).status_code == 400


def test_the_redirect_uri_must_be_the_registered_one(amocrm: Sandbox) -> None:
    info = amocrm.info
    response = requests.post(
        f"{amocrm.url}/oauth2/access_token",
        json={"client_id": info["client_id"], "client_secret": info["client_secret"],
              "grant_type": "authorization_code", "code": info["install"]["code"],
              "redirect_uri": "https://elsewhere.example/cb"},
        verify=info["ca_bundle"], timeout=30,
    )  # fmt: skip
    assert response.status_code == 400
    assert _fetch(amocrm, info["install"]["code"])["access_token"]  # the code survived


def test_access_tokens_last_a_day(amocrm: Sandbox) -> None:
    token = _fetch(amocrm, amocrm.info["install"]["code"])
    amocrm.control.request("POST", "time", {"advance_seconds": 86400 - 60})
    assert _account(amocrm, token["access_token"]).status_code == 200
    amocrm.control.request("POST", "time", {"advance_seconds": 120})
    expired = _account(amocrm, token["access_token"])
    assert expired.status_code == 401
    assert expired.headers["Content-Type"].startswith("application/problem+json")
    assert _account(amocrm, "not-a-token").status_code == 401


def test_a_second_admins_grant_does_not_revoke_the_apps_pair(amocrm: Sandbox) -> None:
    first = _fetch(amocrm, amocrm.info["install"]["code"])
    second = _fetch(amocrm, amocrm.control.request("POST", "authorize")["code"])
    assert _account(amocrm, first["access_token"]).status_code == 200
    assert _account(amocrm, second["access_token"]).status_code == 200


def test_the_widget_token_is_a_thirty_minute_hs256_jwt(amocrm: Sandbox) -> None:
    info = amocrm.info
    token = amocrm.control.request("POST", "widget_token", {"user_id": 7_000_006})["token"]
    claims = jwt.decode(
        token, info["client_secret"], algorithms=["HS256"], audience="http://127.0.0.1:8000"
    )
    assert claims["exp"] - claims["iat"] == 1800
    assert claims["iss"] == f"https://{info['domain']}"
    assert claims["account_id"] == info["account_id"] and claims["user_id"] == 7_000_006
    assert claims["client_uuid"] == info["client_id"] and claims["subdomain"] == info["subdomain"]
    assert {"jti", "nbf"} <= set(claims) and claims["is_admin"] is False
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, "w" * 64, algorithms=["HS256"], audience="http://127.0.0.1:8000")


def test_uninstall_sends_the_signed_revoked_hook_and_revokes_tokens(
    amocrm_api: AmoAPI, receiver: HookReceiver
) -> None:
    sandbox = amocrm_api.sandbox
    info = sandbox.info
    answer = sandbox.control.request("POST", "uninstall", {"url": receiver.url})
    assert answer["hook"]["status"] == 200
    (query,) = receiver.gets
    expected = hmac.new(
        info["client_secret"].encode(),
        f"{query['client_uuid']}|{query['account_id']}".encode(),
        hashlib.sha256,
    ).hexdigest()
    assert query["signature"] == expected
    assert query["account_id"] == str(info["account_id"])
    assert query["client_uuid"] == info["client_id"]
    assert amocrm_api.get("account").status_code == 401


def test_the_access_token_names_its_api_domain_which_tells_the_subdomain(amocrm: Sandbox) -> None:
    from urllib.parse import urlsplit

    from tests.integrations.sandbox.amocrm.test_shapes import _fixture

    token = _fetch(amocrm, amocrm.info["install"]["code"])
    # amoCRM signs with a key of its own: an integration reads the claims without checking.
    claims = jwt.decode(token["access_token"], options={"verify_signature": False})
    assert claims["api_domain"] == urlsplit(amocrm.url).netloc
    assert claims["account_id"] == amocrm.info["account_id"]
    assert claims["exp"] - claims["iat"] == 86400 and claims["aud"] == amocrm.info["client_id"]

    def where(refresh: str) -> requests.Response:
        return requests.get(
            f"https://{claims['api_domain']}/oauth2/account/current/subdomain",
            headers={"X-Refresh-Token": refresh},
            verify=amocrm.info["ca_bundle"],
            timeout=30,
        )

    answer = where(token["refresh_token"])
    assert answer.status_code == 200
    assert set(answer.json()) == set(_fixture("amocrm_oauth_account_current_subdomain.json"))
    assert answer.json()["id"] == amocrm.info["account_id"]
    assert answer.json()["subdomain"] == amocrm.info["subdomain"]
    # Asking does not spend the refresh token; a spent or unknown one is refused.
    assert _refresh(amocrm, token["refresh_token"]).status_code == 200
    assert where(token["refresh_token"]).status_code == 401
    assert where("nonsense").status_code == 401
