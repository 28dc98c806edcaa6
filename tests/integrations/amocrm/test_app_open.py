"""Opening the app inside amoCRM: the widget's one-time JWT, the user's rights, the framed page."""

from __future__ import annotations

import re
import time

import jwt
import pytest

from frontend.session import session_read
from tests.integrations.amocrm.test_install import users

pytestmark = pytest.mark.django_db
SESSION = "/amocrm/app/session/"


@pytest.fixture
def portal(amo_portal):
    return amo_portal


def widget_token(account, user_id: int) -> str:
    return account.control.request("POST", "/widget_token", {"user_id": user_id})["token"]


def session_of(page) -> dict:
    token = re.search(rb'name="app-session" content="([^"]+)"', page.content).group(1).decode()
    return session_read(token)


def opened(client, token: str):
    answer = client.post(SESSION, headers={"X-Auth-Token": token})
    assert answer.status_code == 200, answer.content
    return answer.json()["url"]


def test_each_user_opens_the_app_with_the_role_his_rights_give(client, portal, amo_account):
    admin = users(amo_account, is_admin=True)[0]
    head = users(amo_account, is_admin=False, view="G")[0]
    manager = users(amo_account, is_admin=False, view="M")[0]
    head_group = amo_account.portal.group_of(head)

    roles = {}
    for user in (admin, head, manager):
        page = client.get(opened(client, widget_token(amo_account, user)))
        assert page.status_code == 200
        frame = page["Content-Security-Policy"]
        assert f"frame-ancestors https://{portal.domain}" in frame
        roles[user] = session_of(page)

    assert [roles[u].role for u in (admin, head, manager)] == ["admin", "head", "manager"]
    assert roles[head].department_ids == (head_group,)
    assert roles[manager].user_crm_id == manager


def test_an_opening_link_and_a_widget_token_work_once(client, portal, amo_account):
    token = widget_token(amo_account, users(amo_account, is_admin=True)[0])
    url = opened(client, token)

    assert client.get(url).status_code == 200
    assert client.get(url).status_code == 403  # copied out of the frame: refused
    assert client.post(SESSION, headers={"X-Auth-Token": token}).status_code == 401


def test_a_forged_expired_or_foreign_token_is_refused(client, portal, amo_account, settings):
    genuine = jwt.decode(
        widget_token(amo_account, users(amo_account, is_admin=True)[0]),
        options={"verify_signature": False},
    )
    secret = settings.AMOCRM_CLIENT_SECRET
    now = int(time.time())
    tokens = {
        "forged": jwt.encode(genuine, "someone else's secret, as long as ours", algorithm="HS256"),
        "expired": jwt.encode(genuine | {"iat": now - 7200, "exp": now - 3600}, secret),
        "other audience": jwt.encode(genuine | {"aud": "https://elsewhere.example"}, secret),
        "other integration": jwt.encode(genuine | {"client_uuid": "not-ours"}, secret),
        "none": "",
    }
    answers = {
        name: client.post(SESSION, headers={"X-Auth-Token": token}).status_code
        for name, token in tokens.items()
    }
    unknown = client.post(
        SESSION, headers={"X-Auth-Token": jwt.encode(genuine | {"account_id": 1}, secret)}
    )

    assert answers == dict.fromkeys(tokens, 401)
    assert unknown.status_code == 403
    assert "не установлено" in unknown.json()["detail"]


def test_the_session_call_answers_the_account_origin_only(client, portal, amo_account):
    origin = f"https://{portal.domain}"
    preflight = client.options(SESSION, headers={"Origin": origin})
    stranger = client.options(SESSION, headers={"Origin": "https://evil.example"})
    answer = client.post(
        SESSION,
        headers={
            "Origin": origin,
            "X-Auth-Token": widget_token(amo_account, users(amo_account, is_admin=True)[0]),
        },
    )

    assert preflight["Access-Control-Allow-Origin"] == origin
    assert "X-Auth-Token" in preflight["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Origin" not in stranger
    assert answer["Access-Control-Allow-Origin"] == origin


def test_a_manager_of_an_amocrm_account_reaches_only_his_own_pages(client, portal, amo_account):
    manager = users(amo_account, is_admin=False, view="M")[0]
    page = client.get(opened(client, widget_token(amo_account, manager)))
    token = re.search(rb'name="app-session" content="([^"]+)"', page.content).group(1).decode()
    headers = {"X-App-Session": token}

    assert client.get("/app/settings/", headers=headers).status_code == 403
    assert client.get("/app/spend/", headers=headers).status_code == 403
    other = users(amo_account, is_admin=False, view="M")[1]
    foreign = client.get(f"/app/reports/efficiency/?employee={other}", headers=headers)
    assert foreign.status_code == 403
    assert client.get("/app/reports/efficiency/", headers=headers).status_code == 200


def test_a_blocked_account_still_opens_with_the_rights_last_read_and_says_so(
    client, portal, amo_account
):
    from django.utils import timezone

    from crmapp.models import Portal

    admin, stranger = users(amo_account, is_admin=True)[0], users(amo_account, view="M")[0]
    opened(client, widget_token(amo_account, admin))  # amoCRM answers: his rights are read
    Portal.objects.filter(pk=portal.pk).update(
        crm_state=Portal.CrmState.BLOCKED, crm_state_at=timezone.now()
    )

    page = client.get(opened(client, widget_token(amo_account, admin)))
    never_read = client.post(SESSION, headers={"X-Auth-Token": widget_token(amo_account, stranger)})

    assert session_of(page).role == "admin"
    assert 'id="crm-blocked"' in page.content.decode()
    assert "заблокировал доступ к API" in page.content.decode()
    assert never_read.status_code == 503  # no rights to go by: nothing is guessed
