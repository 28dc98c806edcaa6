"""API v4 behaviour: paging to the end, 204s, limits per page, filters, writes that record events,
and X-Context-User-ID narrowing to that user's rights."""

from __future__ import annotations

from integrations.sandbox.amocrm import identity as ids

from .helpers import AmoAPI


def test_a_full_paged_read_follows_next_until_it_ends(amocrm_api: AmoAPI) -> None:
    leads = amocrm_api.all("leads", "leads", {"limit": 250})
    counts = amocrm_api.sandbox.control.request("GET", "stats")
    assert len(leads) == counts["amo_leads"] and len({lead["id"] for lead in leads}) == len(leads)
    last_page = -(-len(leads) // 250)
    assert amocrm_api.get(f"leads?limit=250&page={last_page + 1}").status_code == 204
    page = amocrm_api.get("leads?limit=250").json()
    assert len(page["_embedded"]["leads"]) == 250 and "next" in page["_links"]
    assert "_total_items" not in page
    assert len(amocrm_api.get("leads?limit=251").json()["_embedded"]["leads"]) == 50
    events = amocrm_api.get("events?limit=100").json()
    assert len(events["_embedded"]["events"]) == 100
    assert len(amocrm_api.get("events?limit=250").json()["_embedded"]["events"]) == 50
    assert amocrm_api.get("leads/1").status_code == 204
    assert (
        amocrm_api.get("events?filter[type][]=lead_added&filter[created_at][to]=1").status_code
        == 204
    )


def test_lead_filters_select_what_they_name(amocrm_api: AmoAPI) -> None:
    won = amocrm_api.all(
        "leads",
        "leads",
        {
            "filter[statuses][0][pipeline_id]": ids.pipeline_id(0),
            "filter[statuses][0][status_id]": ids.WON,
            "limit": 250,
        },
    )
    assert won and all(
        (lead["pipeline_id"], lead["status_id"]) == (ids.pipeline_id(0), ids.WON) for lead in won
    )
    sample = won[0]
    by_owner = amocrm_api.all(
        "leads",
        "leads",
        {"filter[responsible_user_id][]": sample["responsible_user_id"], "limit": 250},
    )
    assert by_owner and {x["responsible_user_id"] for x in by_owner} == {
        sample["responsible_user_id"]
    }
    closed = amocrm_api.all(
        "leads",
        "leads",
        {
            "filter[closed_at][from]": sample["closed_at"],
            "filter[closed_at][to]": sample["closed_at"],
            "limit": 250,
        },
    )
    assert sample["id"] in {lead["id"] for lead in closed}
    assert all(lead["closed_at"] == sample["closed_at"] for lead in closed)
    created = amocrm_api.get(
        f"leads?filter[created_at][from]={sample['created_at']}"
        f"&filter[created_at][to]={sample['created_at']}"
    ).json()
    assert sample["id"] in {lead["id"] for lead in created["_embedded"]["leads"]}
    by_id = amocrm_api.get(f"leads?filter[id][]={sample['id']}&with=contacts,loss_reason,source_id")
    (lead,) = by_id.json()["_embedded"]["leads"]
    assert (
        "source_id" in lead
        and "contacts" in lead["_embedded"]
        and "loss_reason" in lead["_embedded"]
    )
    updated = amocrm_api.all(
        "leads",
        "leads",
        {
            "filter[updated_at][from]": sample["updated_at"],
            "limit": 250,
            "order[updated_at]": "asc",
        },
    )
    assert [x["updated_at"] for x in updated] == sorted(x["updated_at"] for x in updated)
    assert min(x["updated_at"] for x in updated) >= sample["updated_at"]


def test_a_status_change_is_recorded_as_an_event_and_closes_the_lead(amocrm_api: AmoAPI) -> None:
    open_lead = amocrm_api.get(
        f"leads?filter[statuses][0][pipeline_id]={ids.pipeline_id(0)}"
        f"&filter[statuses][0][status_id]={ids.STATUS_BASE + 1}&limit=1"
    ).json()["_embedded"]["leads"][0]
    answer = amocrm_api.call(
        "PATCH",
        f"leads/{open_lead['id']}",
        json={"status_id": ids.WON, "pipeline_id": ids.pipeline_id(0)},
    )
    assert answer.status_code == 200
    lead = amocrm_api.get(f"leads/{open_lead['id']}").json()
    assert lead["status_id"] == ids.WON and lead["closed_at"] == lead["updated_at"]
    moves = amocrm_api.get(
        f"events?filter[entity][]=lead&filter[entity_id][]={open_lead['id']}"
        f"&filter[type][]=lead_status_changed&filter[value_after][leads_statuses][0][status_id]={ids.WON}"
    ).json()["_embedded"]["events"]
    (move,) = moves
    assert move["value_before"] == [
        {"lead_status": {"id": ids.STATUS_BASE + 1, "pipeline_id": ids.pipeline_id(0)}}
    ]
    assert move["created_by"] == 7_000_001
    batch = amocrm_api.call(
        "PATCH",
        "leads",
        json=[
            {"id": open_lead["id"], "status_id": ids.STATUS_BASE + 2},
            {"id": open_lead["id"] + 1, "responsible_user_id": 7_000_007},
        ],
    )
    assert [item["id"] for item in batch.json()["_embedded"]["leads"]] == [
        open_lead["id"],
        open_lead["id"] + 1,
    ]
    assert amocrm_api.get(f"leads/{open_lead['id']}").json()["closed_at"] is None
    changed = amocrm_api.get(
        f"events?filter[type][]=entity_responsible_changed&filter[entity][]=lead"
        f"&filter[entity_id][]={open_lead['id'] + 1}"
    ).json()["_embedded"]["events"]
    assert changed[-1]["value_after"] == [{"responsible_user": {"id": 7_000_007}}]


def test_an_invalid_change_changes_nothing(amocrm_api: AmoAPI) -> None:
    before = amocrm_api.get("leads/20000003").json()
    answer = amocrm_api.call(
        "PATCH", "leads", json=[{"id": 20000003, "price": 7}, {"id": 20000004, "status_id": 999}]
    )
    assert answer.status_code == 400
    assert answer.json()["validation-errors"][0]["request_id"] == "1"
    assert amocrm_api.get("leads/20000003").json()["price"] == before["price"]


def test_deleted_leads_leave_the_list_and_show_with_only_deleted(amocrm_api: AmoAPI) -> None:
    amocrm_api.sandbox.control.request("DELETE", "leads/20000003")
    assert amocrm_api.get("leads/20000003").status_code == 204
    trash = amocrm_api.get("leads?with=only_deleted").json()["_embedded"]["leads"]
    assert [lead["id"] for lead in trash] == [20000003] and trash[0]["is_deleted"] is True
    amocrm_api.sandbox.control.request("POST", "leads/20000003/restore")
    assert amocrm_api.get("leads/20000003").status_code == 200
    kinds = [
        e["type"]
        for e in amocrm_api.get("events?filter[entity][]=lead&filter[entity_id][]=20000003").json()[
            "_embedded"
        ]["events"]
    ]
    assert kinds[-2:] == ["lead_deleted", "lead_restored"]


def test_x_context_user_id_narrows_to_that_users_rights(amocrm_api: AmoAPI) -> None:
    manager = 7_000_006
    mine = amocrm_api.all("leads", "leads", {"limit": 250})
    headers = {"X-Context-User-ID": str(manager)}
    seen = amocrm_api.get("leads?limit=250", headers=headers).json()["_embedded"]["leads"]
    assert seen and {lead["responsible_user_id"] for lead in seen} == {manager}
    assert len(seen) < len(mine)
    assert amocrm_api.get("users", headers=headers).status_code == 403
    head = 7_000_002
    group = amocrm_api.get(f"users/{head}").json()["rights"]["group_id"]
    theirs = amocrm_api.get("leads?limit=250", headers={"X-Context-User-ID": str(head)}).json()
    assert {lead["group_id"] for lead in theirs["_embedded"]["leads"]} == {group}
    assert amocrm_api.get("account", headers={"X-Context-User-ID": "7000009"}).status_code == 403


def test_account_users_and_pipelines_carry_what_the_mirror_reads(amocrm_api: AmoAPI) -> None:
    account = amocrm_api.get("account?with=users_groups,task_types,datetime_settings").json()
    groups = account["_embedded"]["users_groups"]
    assert groups[0] == {"id": 0, "name": "Отдел продаж", "uuid": None}
    assert {t["id"] for t in account["_embedded"]["task_types"]} >= {1, 2}
    assert account["_embedded"]["datetime_settings"]["timezone"] == "Europe/Moscow"
    users = amocrm_api.get("users?limit=250").json()["_embedded"]["users"]
    rights = {u["id"]: u["rights"] for u in users}
    assert rights[7_000_001]["is_admin"] and rights[7_000_001]["leads"]["view"] == "A"
    assert rights[7_000_002]["leads"]["view"] == "G" and rights[7_000_006]["leads"]["view"] == "M"
    assert not rights[7_000_009]["is_active"]
    pipelines = amocrm_api.get("leads/pipelines").json()["_embedded"]["pipelines"]
    for pipeline in pipelines:
        statuses = pipeline["_embedded"]["statuses"]
        assert statuses[0]["type"] == 1 and [s["id"] for s in statuses[-2:]] == [142, 143]
