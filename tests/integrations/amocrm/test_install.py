"""Installing through amoCRM's OAuth callback: confirmed by the account, or refused with nothing
written."""

from __future__ import annotations

import pytest

from crmapp.models import Deal, Portal

pytestmark = pytest.mark.django_db
CALLBACK = "/amocrm/oauth/callback/"


def users(account, **rights) -> list[int]:
    """Ids of the sandbox account's active users whose rights match."""
    found = []
    for user in account.portal.users:
        given = user["rights"]
        view = given["leads"]["view"]
        if given["is_active"] and all(
            (view if name == "view" else given[name]) == value for name, value in rights.items()
        ):
            found.append(int(user["id"]))
    return found


def callback(client, account, **changes):
    install = account.info["install"] | changes
    return client.get(CALLBACK, install)


def test_the_callback_installs_and_answers_what_happens_next(
    client, amo_account, django_capture_on_commit_callbacks
):
    info = amo_account.info
    with django_capture_on_commit_callbacks() as callbacks:
        response = callback(client, amo_account)

    assert response.status_code == 200, response.content
    assert 'id="installed"' in response.content.decode()
    portal = Portal.objects.get(kind=Portal.Kind.AMOCRM)
    assert (portal.member_id, portal.key, portal.domain) == (
        str(info["account_id"]),
        info["subdomain"],
        info["domain"],
    )
    assert portal.access_token and portal.refresh_token and len(portal.application_token) >= 40
    assert portal.status == Portal.Status.ACTIVE
    assert len(callbacks) == 1  # the connect task: webhook, paid state, import


def test_a_reused_or_bad_code_is_refused_and_changes_nothing(client, amo_account):
    assert callback(client, amo_account).status_code == 200
    before = list(Portal.objects.values())

    reused = callback(client, amo_account)
    bad = callback(client, amo_account, code="not-a-code")
    missing = callback(client, amo_account, code="")

    assert (reused.status_code, bad.status_code, missing.status_code) == (400, 400, 400)
    assert list(Portal.objects.values()) == before


def test_a_referer_that_is_not_an_amocrm_account_gets_no_secret(client, amo_account, monkeypatch):
    sent = []
    monkeypatch.setattr("requests.sessions.Session.request", lambda *a, **k: sent.append(a))

    response = callback(client, amo_account, referer="evil.example.com")

    assert response.status_code == 400
    assert sent == []  # our client secret never left for that host
    assert not Portal.objects.exists()


def test_only_an_administrator_installs(client, amo_account):
    account = amo_account.portal
    manager = users(amo_account, is_admin=False, view="M")[0]
    code = account.tokens.issue_code(manager, bound=account.redirect_uri)

    response = callback(client, amo_account, code=code)

    assert response.status_code == 403
    assert not Portal.objects.exists()


def test_a_reinstall_keeps_the_data_and_the_webhook_secret(client, amo_account):
    assert callback(client, amo_account).status_code == 200
    portal = Portal.objects.get()
    when = portal.installed_at
    Deal.objects.create(
        portal=portal, crm_id=1, title="kept", created_at=when, modified_at=when,
        last_touch_at=when,
    )  # fmt: skip
    Portal.objects.filter(pk=portal.pk).update(status=Portal.Status.UNINSTALLED)
    admin = users(amo_account, is_admin=True)[0]
    again = amo_account.control.request("POST", "/authorize", {"user_id": admin})

    response = callback(client, amo_account, code=again["code"])

    assert response.status_code == 200
    reinstalled = Portal.objects.get()
    assert reinstalled.pk == portal.pk and reinstalled.status == Portal.Status.ACTIVE
    assert reinstalled.application_token == portal.application_token
    assert Deal.objects.filter(portal=reinstalled, title="kept").exists()
