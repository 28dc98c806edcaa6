"""Outbound events: form-encoded, after install finish, with the real semantics."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from b24pysdk.credentials import OAuthEventData

from integrations.sandbox import Sandbox
from tests.sandbox_fixture import sandbox_deal_ids

from .receiver import EventReceiver


@pytest.fixture
def receiver() -> Iterator[EventReceiver]:
    server = EventReceiver()
    yield server
    server.stop()


def _bind(sandbox: Sandbox, receiver: EventReceiver, *events: str) -> None:
    token = sandbox.info["install"]["AUTH_ID"]
    for event in events:
        response = requests.post(
            f"{sandbox.url}/rest/event.bind",
            data={"auth": token, "event": event, "handler": receiver.url},
            timeout=10,
        )
        assert response.json()["result"] is True


def _settle(sandbox: Sandbox, receiver: EventReceiver, count: int) -> None:
    sandbox.control.wait_events()
    receiver.wait_for(count)


def test_it_sends_nothing_before_install_finish(
    sandbox_bitrix24_fresh: Sandbox, receiver: EventReceiver
) -> None:
    _bind(sandbox_bitrix24_fresh, receiver, "ONCRMDEALUPDATE", "ONAPPINSTALL")
    (deal_id,) = sandbox_deal_ids(sandbox_bitrix24_fresh, "1 = 1")
    sandbox_bitrix24_fresh.control.update("deals", deal_id, {"TITLE": "Before finish"})
    sandbox_bitrix24_fresh.control.wait_events()
    assert receiver.bodies == []
    assert sandbox_bitrix24_fresh.control.event_log()[-1]["error"].startswith("not sent")
    sandbox_bitrix24_fresh.control.install_finish()
    _settle(sandbox_bitrix24_fresh, receiver, 1)
    install = receiver.events("ONAPPINSTALL")
    assert len(install) == 1
    assert install[0]["auth[refresh_token]"] and install[0]["auth[application_token]"]
    assert install[0]["data[INSTALLED]"] == "Y"


def test_it_delivers_deal_updates_the_sdk_can_parse(
    sandbox_bitrix24_fresh: Sandbox, receiver: EventReceiver
) -> None:
    _bind(sandbox_bitrix24_fresh, receiver, "ONCRMDEALUPDATE")
    sandbox_bitrix24_fresh.control.install_finish()
    (deal_id,) = sandbox_deal_ids(sandbox_bitrix24_fresh, "CATEGORY_ID = 0 AND CLOSED = 'N'")
    sandbox_bitrix24_fresh.control.update("deals", deal_id, {"STAGE_ID": "WON"}, user_id=7)
    _settle(sandbox_bitrix24_fresh, receiver, 1)
    event = OAuthEventData.from_dict(receiver.events()[0])
    assert event.event == "ONCRMDEALUPDATE"
    assert event.data == {"FIELDS": {"ID": str(deal_id)}}
    assert event.auth.user_id == 7
    assert event.auth.application_token == sandbox_bitrix24_fresh.portal.application_token
    assert (
        sandbox_bitrix24_fresh.portal.tokens.authenticate(event.auth.oauth_token.access_token) == 7
    )


def test_it_moves_pipelines_without_an_update_event(
    sandbox_bitrix24_fresh: Sandbox, receiver: EventReceiver
) -> None:
    _bind(sandbox_bitrix24_fresh, receiver, "ONCRMDEALUPDATE", "ONCRMDEALMOVETOCATEGORY")
    sandbox_bitrix24_fresh.control.install_finish()
    deal_id = sandbox_bitrix24_fresh.control.create("deals", {"TITLE": "Mover"})
    sandbox_bitrix24_fresh.control.move_deal(deal_id, 1)
    _settle(sandbox_bitrix24_fresh, receiver, 1)
    moved = receiver.events("ONCRMDEALMOVETOCATEGORY")
    assert [
        (e["data[FIELDS][ID]"], e["data[FIELDS][CATEGORY_ID]"], e["data[FIELDS][STAGE_ID]"])
        for e in moved
    ] == [(str(deal_id), "1", "C1:NEW")]
    assert receiver.events("ONCRMDEALUPDATE") == []
    history = sandbox_bitrix24_fresh.portal.store.query(
        "SELECT TYPE_ID, CATEGORY_ID, STAGE_ID FROM deal_history WHERE OWNER_ID = ? ORDER BY ID",
        (deal_id,),
    )
    assert [tuple(r) for r in history] == [(1, 0, "NEW"), (5, 1, "C1:NEW")]


def test_it_sends_automation_changes_without_tokens(
    sandbox_bitrix24_fresh: Sandbox, receiver: EventReceiver
) -> None:
    _bind(sandbox_bitrix24_fresh, receiver, "ONCRMLEADADD", "ONCRMACTIVITYADD")
    sandbox_bitrix24_fresh.control.install_finish()
    lead_id = sandbox_bitrix24_fresh.control.create("leads", {"TITLE": "Robot"}, automation=True)
    sandbox_bitrix24_fresh.control.create(
        "activities", {"OWNER_TYPE_ID": 1, "OWNER_ID": lead_id, "TYPE_ID": 2}
    )
    _settle(sandbox_bitrix24_fresh, receiver, 2)
    lead = receiver.events("ONCRMLEADADD")[0]
    assert "auth[access_token]" not in lead and lead["auth[application_token]"]
    assert OAuthEventData.from_dict(lead).is_system
    assert "auth[access_token]" in receiver.events("ONCRMACTIVITYADD")[0]


def test_it_sends_uninstall_with_clean_and_revokes_tokens(
    sandbox_bitrix24_fresh: Sandbox, receiver: EventReceiver
) -> None:
    _bind(sandbox_bitrix24_fresh, receiver, "ONAPPUNINSTALL")
    sandbox_bitrix24_fresh.control.install_finish()
    token = sandbox_bitrix24_fresh.info["install"]["AUTH_ID"]
    sandbox_bitrix24_fresh.control.uninstall(clean=True)
    receiver.wait_for(1)
    event = receiver.events("ONAPPUNINSTALL")[0]
    assert event["data[CLEAN]"] == "1" and "auth[access_token]" not in event
    response = requests.post(
        f"{sandbox_bitrix24_fresh.url}/rest/user.current", data={"auth": token}, timeout=10
    )
    assert response.status_code == 401


def test_it_duplicates_and_reorders_on_request(
    sandbox_bitrix24_fresh: Sandbox, receiver: EventReceiver
) -> None:
    _bind(sandbox_bitrix24_fresh, receiver, "ONCRMDEALUPDATE")
    sandbox_bitrix24_fresh.control.install_finish()
    sandbox_bitrix24_fresh.control.event_knobs(duplicates=1, reorder=True, reorder_window=0.3)
    for deal_id in (3, 4):
        sandbox_bitrix24_fresh.control.update("deals", deal_id, {"TITLE": f"Knob {deal_id}"})
    _settle(sandbox_bitrix24_fresh, receiver, 4)
    ids = [e["data[FIELDS][ID]"] for e in receiver.events()]
    assert ids == ["4", "4", "3", "3"]


def test_it_rejects_duplicate_bindings(
    sandbox_bitrix24_fresh: Sandbox, receiver: EventReceiver
) -> None:
    _bind(sandbox_bitrix24_fresh, receiver, "ONCRMDEALADD")
    token: Any = sandbox_bitrix24_fresh.info["install"]["AUTH_ID"]
    again = requests.post(
        f"{sandbox_bitrix24_fresh.url}/rest/event.bind",
        json={"auth": token, "event": "ONCRMDEALADD", "handler": receiver.url},
        timeout=10,
    )
    assert (again.status_code, again.json()["error"]) == (400, "ERROR_HANDLER_ALREADY_EXIST")
    listed = requests.post(
        f"{sandbox_bitrix24_fresh.url}/rest/event.get", json={"auth": token}, timeout=10
    ).json()
    assert listed["result"] == [
        {"event": "ONCRMDEALADD", "handler": receiver.url, "auth_type": "0", "offline": 0}
    ]
