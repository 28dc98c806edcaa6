"""Webhooks delivered as amoCRM does: form-encoded items, several per POST, strings only; retries
on amoCRM's schedule (scaled by the clock knob) and a hook disabled after too many failures."""

from __future__ import annotations

from urllib.parse import parse_qs

from integrations.sandbox.amocrm import identity as ids

from .helpers import AmoAPI, HookReceiver

SCALE = 0.001  # 5 minutes → 0.3 s


def _subscribe(api: AmoAPI, receiver: HookReceiver, settings: list[str]) -> None:
    answer = api.call("POST", "webhooks", json={"destination": receiver.url, "settings": settings})
    assert answer.status_code == 201


def test_a_batch_change_is_one_post_with_all_its_items(
    amocrm_api: AmoAPI, receiver: HookReceiver
) -> None:
    _subscribe(amocrm_api, receiver, ["status_lead"])
    # Two leads still open (the account's history runs up to today: fixed ids may be closed).
    pipeline = ids.pipeline_id(0)
    first, second = sorted(
        lead["id"] for lead in amocrm_api.all("leads", "leads")
        if lead["pipeline_id"] == pipeline and lead["status_id"] not in (ids.WON, ids.LOST)
    )[:2]  # fmt: skip
    amocrm_api.call(
        "PATCH",
        "leads",
        json=[
            {"id": first, "status_id": ids.WON, "pipeline_id": pipeline},
            {"id": second, "status_id": ids.LOST, "pipeline_id": pipeline},
        ],
    )
    receiver.wait_for(1)
    (body,) = receiver.posts
    form = parse_qs("&".join(f"{k}={v}" for k, v in body))
    fields = dict(body)
    assert fields["leads[status][0][id]"] == str(first) and fields["leads[status][1][id]"] == str(
        second
    )
    assert fields["leads[status][0][status_id]"] == "142"
    assert fields["account[id]"] == str(amocrm_api.sandbox.info["account_id"])
    assert fields["account[subdomain]"] == amocrm_api.sandbox.info["subdomain"]
    assert form and all(isinstance(v, str) for _, v in body)


def test_failures_are_retried_on_amocrms_schedule(amocrm_api: AmoAPI) -> None:
    receiver = HookReceiver([500, 500, 503, 502])
    try:
        sandbox = amocrm_api.sandbox
        sandbox.control.request("POST", "hooks/knobs", {"time_scale": SCALE})
        _subscribe(amocrm_api, receiver, ["update_lead"])
        amocrm_api.call("PATCH", "leads/20000003", json={"price": 10})
        assert sandbox.control.request("POST", "hooks/wait", {"timeout": 30})["idle"]
        log = sandbox.control.request("GET", "hooks/log")
        assert [entry["attempt"] for entry in log] == [1, 2, 3, 4, 5]
        assert [entry["status"] for entry in log] == [500, 500, 503, 502, 200]
        assert len({entry["body"] for entry in log}) == 1
    finally:
        receiver.stop()


def test_a_4xx_reply_gets_only_the_first_two_retries(amocrm_api: AmoAPI) -> None:
    receiver = HookReceiver([404, 404, 404, 404, 404])
    try:
        sandbox = amocrm_api.sandbox
        sandbox.control.request("POST", "hooks/knobs", {"time_scale": SCALE})
        _subscribe(amocrm_api, receiver, ["update_lead"])
        amocrm_api.call("PATCH", "leads/20000003", json={"price": 11})
        assert sandbox.control.request("POST", "hooks/wait", {"timeout": 30})["idle"]
        assert [e["attempt"] for e in sandbox.control.request("GET", "hooks/log")] == [1, 2, 3]
    finally:
        receiver.stop()


def test_a_hook_failing_too_often_is_disabled(amocrm_api: AmoAPI) -> None:
    receiver = HookReceiver([500] * 200)
    try:
        sandbox = amocrm_api.sandbox
        sandbox.control.request("POST", "hooks/knobs", {"time_scale": 0.0})
        _subscribe(amocrm_api, receiver, ["update_lead"])
        for price in range(25):
            amocrm_api.call("PATCH", "leads/20000003", json={"price": price + 100})
        assert sandbox.control.request("POST", "hooks/wait", {"timeout": 60})["idle"]
        (hook,) = amocrm_api.get("webhooks").json()["_embedded"]["webhooks"]
        assert hook["disabled"] is True
        sent = len(receiver.posts)
        assert sent == 101  # the 101st failure in two hours disables it
        amocrm_api.call("PATCH", "leads/20000003", json={"price": 1})
        assert sandbox.control.request("POST", "hooks/wait", {"timeout": 10})["idle"]
        assert len(receiver.posts) == sent
    finally:
        receiver.stop()


def test_drop_and_duplicate_knobs(amocrm_api: AmoAPI, receiver: HookReceiver) -> None:
    sandbox = amocrm_api.sandbox
    _subscribe(amocrm_api, receiver, ["update_lead"])
    sandbox.control.request("POST", "hooks/knobs", {"drop_next": 1, "duplicates": 1})
    amocrm_api.call("PATCH", "leads/20000003", json={"price": 1})
    amocrm_api.call("PATCH", "leads/20000003", json={"price": 2})
    assert sandbox.control.request("POST", "hooks/wait", {"timeout": 10})["idle"]
    prices = [dict(body)["leads[update][0][price]"] for body in receiver.posts]
    assert prices == ["2", "2"]


def test_control_changes_emit_hooks_and_events(amocrm_api: AmoAPI, receiver: HookReceiver) -> None:
    sandbox = amocrm_api.sandbox
    _subscribe(amocrm_api, receiver, ["add_lead", "responsible_lead", "add_task", "update_task"])
    lead_id = sandbox.control.request(
        "POST", "leads", {"fields": {"name": "Звонок", "price": 900}}
    )["id"]
    sandbox.control.request(
        "POST", f"leads/{lead_id}", {"fields": {"responsible_user_id": 7_000_007}}
    )
    task = sandbox.control.request(
        "POST",
        "tasks",
        {"fields": {"entity_id": lead_id, "text": "Перезвонить", "complete_till": 1_900_000_000}},
    )["id"]
    sandbox.control.request("POST", f"tasks/{task}/complete", {"result": "Договорились"})
    receiver.wait_for(4)
    kinds = [body[0][0].split("[0]")[0] for body in receiver.posts]
    assert kinds == ["leads[add]", "leads[responsible]", "task[add]", "task[update]"]
    closed = dict(receiver.posts[3])
    assert closed["task[update][0][action_close]"] == "1"
    assert closed["task[update][0][result][text]"] == "Договорились"
    events = amocrm_api.get(f"events?filter[entity][]=lead&filter[entity_id][]={lead_id}").json()
    assert [e["type"] for e in events["_embedded"]["events"]] == [
        "lead_added",
        "entity_responsible_changed",
    ]
    task_events = amocrm_api.get(f"events?filter[entity][]=task&filter[entity_id][]={task}").json()
    assert [e["type"] for e in task_events["_embedded"]["events"]] == [
        "task_added",
        "task_completed",
    ]


def test_the_reorder_knob_lets_a_later_post_overtake(
    amocrm_api: AmoAPI, receiver: HookReceiver
) -> None:
    sandbox = amocrm_api.sandbox
    _subscribe(amocrm_api, receiver, ["update_lead"])
    sandbox.control.request("POST", "hooks/knobs", {"reorder": True, "reorder_window": 0.5})
    amocrm_api.call("PATCH", "leads/20000003", json={"price": 1})
    amocrm_api.call("PATCH", "leads/20000003", json={"price": 2})
    assert sandbox.control.request("POST", "hooks/wait", {"timeout": 10})["idle"]
    assert [dict(body)["leads[update][0][price]"] for body in receiver.posts] == ["2", "1"]
