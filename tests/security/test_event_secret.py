"""An employee must not take the event secret of his portal, nor uninstall it with a forgery."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from crmapp.models import Department, Employee, Portal
from tests.conftest import open_app, sandbox_token
from tests.webhooks.test_bitrix24_events import APP_TOKEN, event_body, post
from webhooks.models import InboundEvent

CHOSEN = "chosen-by-a-manager"


def _manager(portal: Portal) -> int:
    heads = Department.objects.for_portal(portal).values("head")
    employee = (
        Employee.objects.for_portal(portal)
        .filter(active=True)
        .exclude(crm_id=1)
        .exclude(pk__in=heads)
        .order_by("crm_id")
        .first()
    )
    return employee.crm_id


def _forged_app_page(client, sandbox, user_id: int, token: str):
    payload = sandbox.control.placement(user_id=user_id)
    body = payload["body"] | {"APPLICATION_TOKEN": token}
    return client.post(f"/bitrix24/app/?{urlencode(payload['query'])}", body)


def _uninstall_body(portal: Portal, token: str, clean: str = "1") -> str:
    return event_body(
        portal,
        "bitrix24_event_ONAPPUNINSTALL.txt",
        application_token=token,
        **{"data[CLEAN]": clean},
    )


@pytest.fixture
def with_secret(connected):
    connected.application_token = APP_TOKEN
    connected.save()
    return connected


@pytest.mark.django_db
def test_it_never_lets_a_manager_replace_the_event_secret(client, with_secret, bitrix24, caplog):
    manager = _manager(with_secret)

    assert _forged_app_page(client, bitrix24, manager, CHOSEN).status_code == 200
    response = post(client, _uninstall_body(with_secret, CHOSEN))

    with_secret.refresh_from_db()
    assert with_secret.application_token == APP_TOKEN
    assert response.status_code == 403
    assert with_secret.status == Portal.Status.ACTIVE
    assert Employee.objects.for_portal(with_secret).exists()
    assert any("ALERT" in r.message and r.levelname == "ERROR" for r in caplog.records)


@pytest.mark.django_db
def test_it_does_not_let_an_admin_page_replace_the_secret_either(client, with_secret, bitrix24):
    assert _forged_app_page(client, bitrix24, 1, "another").status_code == 200

    with_secret.refresh_from_db()
    assert with_secret.application_token == APP_TOKEN


@pytest.mark.django_db
def test_a_missing_secret_is_filled_by_an_admin_page_only(client, connected, bitrix24):
    assert connected.application_token == ""

    _forged_app_page(client, bitrix24, _manager(connected), CHOSEN)
    connected.refresh_from_db()
    assert connected.application_token == ""

    _forged_app_page(client, bitrix24, 1, "a" * 32)
    connected.refresh_from_db()
    assert connected.application_token == "a" * 32


@pytest.mark.django_db
def test_it_refuses_onappinstall_carrying_a_managers_token(
    client, connected, bitrix24, django_capture_on_commit_callbacks
):
    token = sandbox_token(bitrix24, user_id=_manager(connected))
    forged = event_body(
        connected,
        "bitrix24_event_ONAPPINSTALL.txt",
        application_token=CHOSEN,
        **{"auth[access_token]": token.auth_token, "auth[refresh_token]": ""},
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, forged).status_code == 200

    connected.refresh_from_db()
    assert connected.application_token == ""
    dead = InboundEvent.objects.for_portal(connected).get()
    assert dead.status == InboundEvent.Status.DEAD and "administrator" in dead.last_error


@pytest.mark.django_db
@pytest.mark.parametrize("clean", ["1", "0"])
def test_a_replayed_uninstall_of_an_installed_app_is_reverted(
    client, with_secret, bitrix24, django_capture_on_commit_callbacks, clean
):
    """Even with the genuine secret, an uninstall while the CRM still honours our tokens
    (the app is installed) deletes nothing and leaves the portal working."""
    employees = Employee.objects.for_portal(with_secret).count()

    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, _uninstall_body(with_secret, APP_TOKEN, clean)).status_code == 200

    portal = Portal.objects.get(pk=with_secret.pk)
    assert portal.status == Portal.Status.ACTIVE
    assert portal.purge_after is None and portal.refresh_token
    assert Employee.objects.for_portal(portal).count() == employees
    assert open_app(client, bitrix24).status_code == 200


@pytest.mark.django_db
def test_a_genuine_clean_uninstall_still_purges(
    client, with_secret, bitrix24, django_capture_on_commit_callbacks
):
    bitrix24.control.uninstall(clean=True)  # the CRM revokes our tokens

    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, _uninstall_body(with_secret, APP_TOKEN)).status_code == 200

    assert not Portal.objects.filter(pk=with_secret.pk).exists()
    assert not Employee.all_portals.filter(portal_id=with_secret.pk).exists()
