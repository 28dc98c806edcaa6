from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest
from django.utils import timezone

from crmapp.models import Deal, Portal
from tests.conftest import install_post, sandbox_token, wait_until
from tests.sandbox_fixture import sandbox_deal_ids
from webhooks.models import InboundEvent

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "crm" / "fixtures"
APP_TOKEN = "5c1e0c2a4b7d4f0e9a8b7c6d5e4f3a2b"


def event_body(portal: Portal, fixture: str, *, entity_id: int | None = None, **changes) -> str:
    """A real captured event, re-addressed to `portal`."""
    pairs = parse_qsl((FIXTURES / fixture).read_text().strip(), keep_blank_values=True)
    replace = {
        "auth[member_id]": portal.member_id,
        "auth[domain]": portal.domain,
        "auth[application_token]": changes.pop("application_token", APP_TOKEN),
        **changes,
    }
    if entity_id is not None:
        replace["data[FIELDS][ID]"] = str(entity_id)
    return urlencode([(key, replace.get(key, value)) for key, value in pairs])


def post(client, body: str):
    return client.post("/bitrix24/events/", body, content_type="application/x-www-form-urlencoded")


@pytest.fixture
def portal(connected):
    connected.application_token = APP_TOKEN
    connected.save()
    return connected


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("event=ONCRMDEALUPDATE&data[FIELDS][ID]=1", 400),
        ("event=ONCRMDEALUPDATE&auth[member_id]=x&auth[domain]=y", 400),
        ("\xff\xfe", 400),
    ],
    ids=["no-auth", "no-token", "not-utf8"],
)
def test_it_rejects_a_malformed_event(client, portal, body, status):
    response = client.post(
        "/bitrix24/events/",
        body.encode("latin-1"),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == status
    assert not InboundEvent.all_portals.exists()


@pytest.mark.django_db
def test_it_rejects_a_spoofed_or_unknown_portal_event(client, portal, make_portal):
    spoofed = event_body(portal, "bitrix24_event_ONCRMDEALUPDATE.txt", application_token="guess")
    stranger = make_portal()
    unknown = event_body(stranger, "bitrix24_event_ONCRMDEALUPDATE.txt")
    unknown = unknown.replace(stranger.member_id, "f" * 32)

    assert post(client, spoofed).status_code == 403
    assert post(client, unknown).status_code == 404
    assert not InboundEvent.all_portals.exists()


@pytest.mark.django_db
def test_it_acknowledges_and_drops_an_event_it_does_not_use(client, portal):
    body = event_body(portal, "bitrix24_event_ONCRMCONTACTADD_real.txt")
    assert post(client, body).status_code == 200
    assert not InboundEvent.all_portals.exists()


@pytest.mark.django_db
def test_it_mirrors_a_changed_deal_from_its_current_state(
    client, portal, bitrix24, django_capture_on_commit_callbacks
):
    # PREPARATION is a stage of the default pipeline: an open deal of that pipeline.
    (deal_id,) = sandbox_deal_ids(bitrix24, "CATEGORY_ID = 0 AND STAGE_ID = 'NEW'")
    bitrix24.control.update(
        "deals", deal_id, {"OPPORTUNITY": "777000.00", "STAGE_ID": "PREPARATION"}
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            client, event_body(portal, "bitrix24_event_ONCRMDEALUPDATE.txt", entity_id=deal_id)
        )

    assert response.status_code == 200
    deal = Deal.objects.for_portal(portal).get(crm_id=deal_id)
    assert str(deal.amount) == "777000.00"
    assert deal.stage.crm_id == "PREPARATION"
    assert InboundEvent.objects.for_portal(portal).get().status == InboundEvent.Status.DONE
    assert portal.__class__.objects.get(pk=portal.pk).data_as_of is not None


@pytest.mark.django_db
def test_it_is_unmoved_by_duplicates_and_reordering(
    client, portal, bitrix24, django_capture_on_commit_callbacks
):
    token = sandbox_token(bitrix24)
    ids = sandbox_deal_ids(bitrix24, "1 = 1", 5)
    deleted = ids[-1]
    for deal_id in ids:
        bitrix24.control.update("deals", deal_id, {"OPPORTUNITY": f"{deal_id}000.00"})
    bitrix24.control.delete("deals", deleted)
    events = [
        event_body(portal, "bitrix24_event_ONCRMDEALUPDATE.txt", entity_id=i, ts=str(1000 + i))
        for i in ids
    ] + [event_body(portal, "bitrix24_event_ONCRMDEALDELETE.txt", entity_id=deleted)]
    stream = events * 3
    random.Random(7).shuffle(stream)

    with django_capture_on_commit_callbacks(execute=True):
        for body in stream:
            assert post(client, body).status_code == 200

    current = {
        int(row["ID"]): row["OPPORTUNITY"]
        for row in token.call_method(
            "crm.deal.list", {"filter": {"@ID": ids}, "select": ["ID", "OPPORTUNITY"]}
        )["result"]
    }
    mirrored = {
        d.crm_id: f"{d.amount:.2f}" for d in Deal.objects.for_portal(portal).filter(crm_id__in=ids)
    }
    assert mirrored == current
    assert deleted not in mirrored
    assert InboundEvent.objects.for_portal(portal).count() == len(events)


@pytest.mark.django_db
def test_it_disables_at_once_and_purges_on_clean_uninstall(
    client, portal, bitrix24, django_capture_on_commit_callbacks
):
    bitrix24.control.uninstall(clean=True)  # the CRM revokes our tokens, then tells us
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, event_body(portal, "bitrix24_event_ONAPPUNINSTALL.txt"))

    assert response.status_code == 200
    assert not Portal.objects.filter(pk=portal.pk).exists()
    assert not Deal.all_portals.filter(portal_id=portal.pk).exists()


@pytest.mark.django_db
def test_it_keeps_data_thirty_days_and_a_reinstall_finds_it(
    client, installed, bitrix24, django_capture_on_commit_callbacks
):
    portal = installed
    portal.application_token = APP_TOKEN
    portal.save()
    deals = Deal.objects.for_portal(portal).count()
    body = event_body(portal, "bitrix24_event_ONAPPUNINSTALL.txt", **{"data[CLEAN]": "0"})
    bitrix24.control.uninstall(clean=False)

    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, body).status_code == 200

    portal.refresh_from_db()
    assert portal.status == Portal.Status.UNINSTALLED
    assert portal.purge_after > timezone.now() + timedelta(days=29)
    assert portal.access_token == ""
    # A further event of an uninstalled portal is refused.
    assert post(client, event_body(portal, "bitrix24_event_ONCRMDEALUPDATE.txt")).status_code == 404

    with django_capture_on_commit_callbacks(execute=True):
        install_post(client, bitrix24, bitrix24.control.reinstall())
    portal.refresh_from_db()
    assert portal.status == Portal.Status.ACTIVE and portal.purge_after is None
    assert Deal.objects.for_portal(portal).count() == deals


@pytest.mark.django_db
def test_it_confirms_onappinstall_before_trusting_its_token(
    client, connected, bitrix24, django_capture_on_commit_callbacks
):
    install = bitrix24.info["install"]
    genuine = event_body(
        connected,
        "bitrix24_event_ONAPPINSTALL.txt",
        application_token="a" * 32,
        **{"auth[access_token]": install["AUTH_ID"], "auth[refresh_token]": ""},
    )
    forged = event_body(connected, "bitrix24_event_ONAPPINSTALL.txt", application_token="b" * 32)

    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, forged).status_code == 200
    connected.refresh_from_db()
    assert connected.application_token == ""
    dead = InboundEvent.objects.for_portal(connected).get()
    assert dead.status == InboundEvent.Status.DEAD and "confirm" in dead.last_error

    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, genuine).status_code == 200
    connected.refresh_from_db()
    assert connected.application_token == "a" * 32


@pytest.mark.django_db(transaction=True)
def test_it_follows_the_sandbox_live(client, bitrix24, live_server, settings):
    settings.PUBLIC_URL = live_server.url
    assert install_post(client, bitrix24).status_code == 200
    portal = Portal.objects.get()
    assert wait_until(lambda: Portal.objects.get().import_phase == "done", timeout=120)

    bitrix24.control.install_finish()  # what the install page's BX24.installFinish() does
    assert wait_until(lambda: Portal.objects.get().application_token != "")

    (deal_id,) = sandbox_deal_ids(bitrix24, "CATEGORY_ID = 0")  # so the move to 1 is one
    bitrix24.control.update("deals", deal_id, {"OPPORTUNITY": "123456.00"})
    deal = Deal.objects.for_portal(portal).filter(crm_id=deal_id)
    assert wait_until(lambda: str(deal.get().amount) == "123456.00")
    bitrix24.control.move_deal(deal_id, 1)
    assert wait_until(lambda: deal.get().pipeline.crm_id == 1)
    # Nothing may still be in flight when the next test empties the database.
    assert bitrix24.control.wait_events()
    assert wait_until(
        lambda: (
            not InboundEvent.objects.for_portal(portal)
            .exclude(status=InboundEvent.Status.DONE)
            .exists()
        )
    )
