"""The sandbox account answers with the keys (recursively) of the real and documented payloads in
``shared/crm/fixtures/amocrm_*``. Where the fake has nothing of a kind (tags, catalogs, roles,
file attachments, text notes, select-field enums) the fixture's key is named as not applicable."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import jwt
import pytest

from .helpers import AmoAPI, HookReceiver

FIXTURES = Path(__file__).resolve().parents[4] / ".." / "shared" / "crm" / "fixtures"


def _fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def _merge(into: dict[str, Any], shape: dict[str, Any]) -> None:
    for key, value in shape.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        elif isinstance(value, list) and isinstance(into.get(key), list) and value:
            if into[key] and isinstance(into[key][0], dict) and isinstance(value[0], dict):
                _merge(into[key][0], value[0])
            else:
                into[key] = value
        elif key not in into or into[key] in (None, []):
            into[key] = value


def _shape(value: Any) -> Any:
    """Keys of dicts recursively; a list becomes the merged shape of its items."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        merged: dict[str, Any] = {}
        for item in value:
            shape = _shape(item)
            if isinstance(shape, dict):
                _merge(merged, shape)
        return [merged] if merged else []
    return None


def _missing(fixture: Any, ours: Any, path: str = "") -> set[str]:
    """Paths present in the fixture's shape and absent from ours."""
    out: set[str] = set()
    if isinstance(fixture, dict):
        if not isinstance(ours, dict):
            return {path or "."}
        for key, value in fixture.items():
            if key not in ours:
                out.add(f"{path}.{key}")
            else:
                out |= _missing(value, ours[key], f"{path}.{key}")
    elif isinstance(fixture, list) and fixture:
        if not isinstance(ours, list) or not ours:
            return {f"{path}[]"}
        out |= _missing(fixture[0], ours[0], f"{path}[]")
    return out


@pytest.fixture
def prepared(amocrm_api: AmoAPI) -> AmoAPI:
    """An account with one hook, a trashed lead and moves of each kind; `api.ids` names a lead
    with every embedded kind ("full"), the one with most notes ("noted") and three with
    custom fields and a company ("tracked", as a filter: one a page, each page with a next),
    found by what they hold (the account's history is generated up to today, so fixed ids
    would hold other things)."""
    api = amocrm_api
    leads = api.all("leads", "leads", {"with": "contacts,loss_reason"})
    kinds = ("loss_reason", "companies", "contacts")
    notes = Counter(note["entity_id"] for note in api.all("leads/notes", "notes"))
    # Leads holding custom (tracking) fields and a company, as the list fixtures' leads do.
    tracked = [
        lead["id"]
        for lead in leads
        if lead.get("custom_fields_values")
        and lead["_embedded"].get("companies")
        and lead["id"] != 20000004
    ]  # fmt: skip  (trashed below)
    api.ids = {
        "full": next(lead["id"] for lead in leads if all(lead["_embedded"].get(k) for k in kinds)),
        "noted": notes.most_common(1)[0][0],
        "tracked": "&".join(f"filter[id][]={crm_id}" for crm_id in tracked[:3]),
    }
    api.call(
        "POST", "webhooks", json={"destination": "https://x.example/h", "settings": ["add_lead"]}
    )
    api.call("PATCH", "leads/20000003", json={"price": 5, "responsible_user_id": 7_000_006})
    api.sandbox.control.request("DELETE", "leads/20000004")
    return api


# tracking_data fields carry no enum (select fields do)
NO_ENUMS = {
    "._embedded.leads[].custom_fields_values[].values[].enum_id",
    "._embedded.leads[].custom_fields_values[].values[].enum_code",
}
API_FIXTURES = {
    "amocrm_api_v4_account_with_all.json": (
        "account?with=amojo_id,amojo_rights,users_groups,task_types,version,entity_names,"
        "datetime_settings,drive_url,is_api_filter_enabled",
        set(),
    ),
    "amocrm_api_v4_users_with_role_group.json": (
        "users?with=role,group&limit=2",
        # no per-stage rights and no roles in the account
        {"._embedded.users[].rights.status_rights[]", "._embedded.users[]._embedded.roles[]"},
    ),
    "amocrm_api_v4_user_by_id.json": ("users/7000006?with=role,group", {".rights.status_rights[]"}),
    "amocrm_api_v4_users_team_constructed.json": (
        "users?with=role,group",
        {"._embedded.users[]._embedded.roles[]"},  # the account has no roles
    ),
    "amocrm_api_v4_pipelines.json": ("leads/pipelines", set()),
    "amocrm_api_v4_leads_list_page2.json": ("leads?limit=2&page=2&with=source_id", set()),
    "amocrm_api_v4_leads_page.json": (
        "leads?limit=1&page=1&{tracked}",
        NO_ENUMS | {"._embedded.leads[]._embedded.tags[]"},
    ),
    "amocrm_api_v4_lead_by_id_with_contacts_loss_reason.json": (
        "leads/{full}?with=contacts,loss_reason,source_id",
        {"._embedded.tags[]", "._embedded.catalog_elements"},
    ),
    "amocrm_api_v4_lead_tracking_data_real.json": ("leads?limit=1&page=2&{tracked}", NO_ENUMS),
    "amocrm_api_v4_leads_only_deleted_constructed.json": ("leads?with=only_deleted", set()),
    "amocrm_api_v4_contacts_list.json": ("contacts?limit=2", set()),
    "amocrm_api_v4_contact_by_id_with_leads.json": (
        "contacts/30000082?with=leads,customers,catalog_elements",
        # the simulation's contacts have no phones; the account has no customers
        {".custom_fields_values[]", "._embedded.customers[]"},
    ),
    "amocrm_api_v4_companies_list.json": ("companies?limit=2", set()),
    "amocrm_api_v4_tasks_list_completed_meetings.json": (
        "tasks?filter[task_type][]=2&filter[is_completed][]=1&limit=2",
        set(),
    ),
    "amocrm_api_v4_task_by_id_with_result.json": ("tasks/50000001", set()),
    "amocrm_api_v4_leads_notes_list.json": (
        "leads/notes?limit=2",
        {  # an attachment note; the fake has call notes only
            f"._embedded.notes[].params.{key}"
            for key in (
                "is_drive_attachment",
                "text",
                "original_name",
                "file_uuid",
                "version_uuid",
                "file_name",
            )
        },
    ),
    "amocrm_api_v4_leads_notes_calls_constructed.json": (
        "leads/notes?filter[note_type][]=call_in&filter[note_type][]=call_out&limit=2",
        set(),
    ),
    "amocrm_api_v4_lead_notes_by_entity.json": (
        "leads/{noted}/notes?limit=1",
        {"._embedded.notes[].params.text"},  # a common text note
    ),
    "amocrm_api_v4_events_list_lead_added.json": (
        "events?filter[type][]=lead_added&limit=1",
        set(),
    ),
    "amocrm_api_v4_events_lead_status_changed.json": (
        "events?filter[type][]=lead_status_changed&limit=2",
        set(),
    ),
    "amocrm_api_v4_events_lead_history_constructed.json": (
        "events?filter[entity][]=lead&filter[entity_id][]=20000003&limit=100",
        set(),
    ),
    "amocrm_api_v4_loss_reasons.json": ("leads/loss_reasons", set()),
    "amocrm_api_v4_sources_list.json": ("sources", set()),
    "amocrm_api_v4_webhooks_list.json": ("webhooks", set()),
}


@pytest.mark.parametrize("name", sorted(API_FIXTURES))
def test_api_answers_have_the_fixtures_keys(prepared: AmoAPI, name: str) -> None:
    path, not_applicable = API_FIXTURES[name]
    response = prepared.get(path.format(**prepared.ids))
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/hal+json")
    assert _missing(_shape(_fixture(name)), _shape(response.json())) == not_applicable


def test_event_values_have_the_documented_shapes(prepared: AmoAPI) -> None:
    documented = {
        kinds.split(" ")[0]: value for kinds, value in _fixture(
            "amocrm_api_v4_events_value_shapes.json").items()
    }  # fmt: skip
    groups = {
        "lead_status_changed": "lead_status_changed",
        "entity_responsible_changed": "entity_responsible_changed",
        "lead_added": next(k for k in documented if k.startswith("lead_added")),
        "incoming_call": next(k for k in documented if k.startswith("lead_added")),
        "task_completed": next(k for k in documented if k.startswith("lead_deleted")),
        "lead_deleted": next(k for k in documented if k.startswith("lead_deleted")),
    }
    for kind, group in groups.items():
        response = prepared.get(f"events?filter[type][]={kind}&limit=1")
        assert response.status_code == 200, kind
        (event,) = response.json()["_embedded"]["events"]
        for side in ("value_after", "value_before"):
            if side in documented[group]:
                assert _shape(event[side]) == _shape(documented[group][side]), (kind, side)


def test_writes_answer_like_the_docs(amocrm_api: AmoAPI) -> None:
    tasks = _fixture("amocrm_api_v4_tasks_add_request.json")
    tasks[0]["entity_id"] = 20000003
    answer = amocrm_api.call("POST", "tasks", json=tasks)
    assert answer.status_code == 200
    assert _shape(answer.json()) == _shape(_fixture("amocrm_api_v4_tasks_add_response.json"))
    assert answer.json()["_embedded"]["tasks"][0]["request_id"] == "example"

    calls = [n for n in _fixture("amocrm_api_v4_notes_add_calls_request.json")
             if n["note_type"] in ("call_in", "call_out")]  # fmt: skip
    for note in calls:
        note |= {"entity_id": 20000003, "responsible_user_id": 7_000_006}
    answer = amocrm_api.call("POST", "leads/notes", json=calls)
    assert answer.status_code == 200
    assert _shape(answer.json()) == _shape(_fixture("amocrm_api_v4_notes_add_response.json"))

    task_id = answer_id = amocrm_api.call("POST", "tasks", json=tasks).json()
    task_id = answer_id["_embedded"]["tasks"][0]["id"]
    done = amocrm_api.call(
        "PATCH", f"tasks/{task_id}", json=_fixture("amocrm_api_v4_task_complete_request.json")
    )
    assert done.status_code == 200
    task = amocrm_api.get(f"tasks/{task_id}").json()
    assert task["is_completed"] is True and task["result"] == {
        "text": "Удалось связаться с клиентом"
    }

    hook = amocrm_api.call(
        "POST", "webhooks", json=_fixture("amocrm_api_v4_webhooks_subscribe_request.json")
    )
    assert hook.status_code == 201
    assert _shape(hook.json()) == _shape(_fixture("amocrm_api_v4_webhooks_subscribe_response.json"))
    gone = amocrm_api.call(
        "DELETE", "webhooks", json=_fixture("amocrm_api_v4_webhooks_unsubscribe_request.json")
    )
    assert gone.status_code == 204
    assert (
        amocrm_api.call(
            "DELETE", "webhooks", json=_fixture("amocrm_api_v4_webhooks_unsubscribe_request.json")
        ).status_code
        == 404
    )


def test_error_bodies_have_the_fixtures_keys(amocrm_api: AmoAPI) -> None:
    sandbox = amocrm_api.sandbox
    bad = amocrm_api.call("PATCH", "leads/20000003", json={"status_id": 1})
    assert bad.status_code == 400
    assert bad.headers["Content-Type"].startswith("application/problem+json")
    assert _shape(bad.json()) == _shape(_fixture("amocrm_error_400_validation.json"))
    too_many = amocrm_api.call("PATCH", "leads", json=[{"id": 20000003}] * 251)
    assert too_many.status_code == 422
    assert too_many.json() == _fixture("amocrm_error_422_limit_250.json")
    unknown = amocrm_api.get("nothing/here")
    assert unknown.status_code == 404
    assert set(unknown.json()) == set(_fixture("amocrm_error_404_not_found.json"))
    assert amocrm_api.call("DELETE", "leads").json() == _fixture(
        "amocrm_error_405_method_not_allowed.json"
    )
    unauthorized = amocrm_api.get("account", headers={"Authorization": "Bearer nope"})
    assert unauthorized.json() == _fixture("amocrm_error_401_unauthorized_real.json")
    sandbox.control.request("POST", "unpaid", {"unpaid": True})
    unpaid = amocrm_api.call("PATCH", "leads/20000003", json={"price": 1})
    assert unpaid.status_code == 402
    assert unpaid.json() == _fixture("amocrm_error_402_payment_required.json")


def test_oauth_answers_have_the_fixtures_keys(amocrm) -> None:
    import requests

    info = amocrm.info
    body = {"client_id": info["client_id"], "client_secret": info["client_secret"],
            "grant_type": "authorization_code", "code": info["install"]["code"],
            "redirect_uri": info["redirect_uri"]}  # fmt: skip
    assert set(body) == set(_fixture("amocrm_oauth_access_token_request.json"))
    url = f"{amocrm.url}/oauth2/access_token"
    pair = requests.post(url, json=body, verify=info["ca_bundle"], timeout=30).json()
    assert set(pair) == set(_fixture("amocrm_oauth_access_token_response.json"))
    refresh = {k: v for k, v in body.items() if k != "code"}
    refresh |= {"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]}
    assert set(refresh) == set(_fixture("amocrm_oauth_refresh_token_request.json"))
    requests.post(url, json=refresh, verify=info["ca_bundle"], timeout=30)
    revoked = requests.post(url, json=refresh, verify=info["ca_bundle"], timeout=30).json()
    assert revoked == _fixture("amocrm_oauth_error_token_revoked_real.json")
    token = amocrm.control.request("POST", "widget_token", {"user_id": 7_000_001})["token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert set(_fixture("amocrm_disposable_token_claims.json")) <= set(claims)


def _form_keys(name: str) -> set[str]:
    lines = [
        line
        for line in (FIXTURES / name).read_text().splitlines()
        if line and not line.startswith("#")
    ]
    return {key for line in lines for key, _ in parse_qsl(line, keep_blank_values=True)}


def test_hooks_have_the_fixtures_form_keys(amocrm_api: AmoAPI, receiver: HookReceiver) -> None:
    api = amocrm_api
    settings = ["update_lead", "status_lead", "delete_lead", "add_task", "note_lead"]
    api.call("POST", "webhooks", json={"destination": receiver.url, "settings": settings})
    api.call("PATCH", "leads/20000003", json={"status_id": 142, "pipeline_id": 7_700_000})
    api.sandbox.control.request("DELETE", "leads/20000005")
    api.call("POST", "tasks", json=[{"text": "Позвонить", "complete_till": 1_900_000_000,
                                     "entity_id": 20000003, "entity_type": "leads"}])  # fmt: skip
    call = {
        "entity_id": 20000003,
        "note_type": "call_in",
        "params": {"uniq": "u", "duration": 5, "source": "pbx", "link": "", "phone": "+7"},
    }
    api.call("POST", "leads/notes", json=[call])  # fmt: skip
    receiver.wait_for(5)
    sent = {pairs[0][0].split("[")[0] + "[" + pairs[0][0].split("[")[1]: {k for k, _ in pairs}
            for pairs in receiver.posts}  # fmt: skip
    custom = {k for k in _form_keys("amocrm_webhook_leads_update_full.txt") if "[tags]" in k
              or "[custom_fields]" in k}  # fmt: skip
    assert _form_keys("amocrm_webhook_leads_update_full.txt") - custom <= sent["leads[update]"]
    status_keys = _form_keys("amocrm_webhook_leads_status_full.txt")
    assert {k for k in status_keys if "[tags]" not in k and "[custom_fields]" not in k} <= sent[
        "leads[status]"
    ] | {"leads[status][0][old_pipeline_id]"}
    assert _form_keys("amocrm_webhook_leads_delete.txt") <= sent["leads[delete]"]
    assert _form_keys("amocrm_webhook_task_add_constructed.txt") <= sent["task[add]"]
    note_keys = _form_keys("amocrm_webhook_note_call_in_constructed.txt")
    assert note_keys - {"account[_links][self]"} <= sent["leads[note]"]
    assert all(isinstance(v, str) for pairs in receiver.posts for _, v in pairs)
