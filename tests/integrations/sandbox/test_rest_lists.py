"""List semantics over plain HTTP: bracket notation, filters, order, select, paging."""

from __future__ import annotations

from typing import Any

import requests

from integrations.sandbox import Sandbox


def _get(sandbox: Sandbox, method: str, query: str) -> Any:
    token = sandbox.control.placement(1)["body"]["AUTH_ID"]
    response = requests.get(f"{sandbox.url}/rest/{method}?auth={token}&{query}", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def test_it_decodes_php_bracket_notation(sandbox_bitrix24_fresh: Sandbox) -> None:
    payload = _get(
        sandbox_bitrix24_fresh,
        "crm.deal.list.json",
        "filter[%3EID]=5&filter[%3C%3DID]=7&select[]=ID&select[]=TITLE&order[ID]=DESC",
    )
    assert [row["ID"] for row in payload["result"]] == ["7", "6"]
    assert set(payload["result"][0]) == {"ID", "TITLE"}
    assert payload["total"] == 2 and "next" not in payload


def test_it_pages_by_fifty_and_skips_counting_with_start_minus_one(
    sandbox_bitrix24_fresh: Sandbox,
) -> None:
    first = _get(sandbox_bitrix24_fresh, "crm.lead.list", "select[]=ID")
    assert len(first["result"]) == 50 and first["next"] == 50 and first["total"] > 1000
    second = _get(sandbox_bitrix24_fresh, "crm.lead.list", "select[]=ID&start=50")
    assert second["result"][0]["ID"] == "51" and second["next"] == 100
    fast = _get(
        sandbox_bitrix24_fresh,
        "crm.lead.list",
        "select[]=ID&start=-1&order[ID]=ASC&filter[%3EID]=100",
    )
    assert fast["result"][0]["ID"] == "101" and len(fast["result"]) == 50
    assert "total" not in fast and "next" not in fast


def test_it_filters_by_modification_date(sandbox_bitrix24_fresh: Sandbox) -> None:
    store = sandbox_bitrix24_fresh.portal.store
    cutoff = store.scalar(
        "SELECT DATE_MODIFY FROM deals ORDER BY DATE_MODIFY DESC LIMIT 1 OFFSET 30"
    )
    expected = store.scalar("SELECT COUNT(*) FROM deals WHERE DATE_MODIFY > ?", (cutoff,))
    query = (
        f"filter[%3EDATE_MODIFY]={requests.utils.quote(cutoff)}&select[]=ID&select[]=DATE_MODIFY"
    )
    payload = _get(sandbox_bitrix24_fresh, "crm.deal.list", query)
    assert payload["total"] == expected == 30
    assert all(row["DATE_MODIFY"] > cutoff for row in payload["result"])
    day = cutoff[:10]
    by_day = _get(
        sandbox_bitrix24_fresh, "crm.deal.list", f"filter[%3E%3DDATE_MODIFY]={day}&select[]=ID"
    )
    assert by_day["total"] >= expected


def test_it_filters_by_lists_negation_and_owner(sandbox_bitrix24_fresh: Sandbox) -> None:
    in_list = _get(
        sandbox_bitrix24_fresh, "crm.deal.list", "filter[@ID][]=3&filter[@ID][]=9&select[]=ID"
    )
    assert [r["ID"] for r in in_list["result"]] == ["3", "9"]
    store = sandbox_bitrix24_fresh.portal.store
    not_won = _get(
        sandbox_bitrix24_fresh,
        "crm.deal.list",
        "filter[!STAGE_ID]=WON&filter[CATEGORY_ID]=0&select[]=ID",
    )
    assert not_won["total"] == store.scalar(
        "SELECT COUNT(*) FROM deals WHERE CATEGORY_ID = 0 AND STAGE_ID <> 'WON'"
    )
    owner = store.query(
        "SELECT OWNER_ID, COUNT(*) FROM activities WHERE OWNER_TYPE_ID = 2 "
        "GROUP BY OWNER_ID LIMIT 1"
    )[0]
    acts = _get(
        sandbox_bitrix24_fresh,
        "crm.activity.list",
        f"filter[OWNER_TYPE_ID]=2&filter[OWNER_ID]={owner[0]}",
    )
    assert acts["total"] == owner[1]
    mine = _get(
        sandbox_bitrix24_fresh, "crm.deal.list", "filter[ASSIGNED_BY_ID]=7&select[]=ASSIGNED_BY_ID"
    )
    assert {r["ASSIGNED_BY_ID"] for r in mine["result"]} == {"7"}


def test_it_honours_select_star_and_user_fields(sandbox_bitrix24_fresh: Sandbox) -> None:
    star = _get(sandbox_bitrix24_fresh, "crm.deal.list", "select[]=*&filter[ID]=1")["result"][0]
    assert "UF_CRM_1721244482250" not in star and "DATE_MODIFY" in star
    uf = _get(sandbox_bitrix24_fresh, "crm.deal.list", "select[]=UF_*&filter[ID]=1")["result"][0]
    assert set(uf) == {"ID", "UF_CRM_1721244482250"}
    plain = _get(sandbox_bitrix24_fresh, "crm.deal.list", "filter[ID]=1")["result"][0]
    assert set(plain) == set(star)


def test_it_lists_users_departments_and_statuses(sandbox_bitrix24_fresh: Sandbox) -> None:
    active = _get(sandbox_bitrix24_fresh, "user.get", "FILTER[ACTIVE]=true")
    everyone = _get(sandbox_bitrix24_fresh, "user.get", "start=0")
    assert active["total"] < everyone["total"] == 40
    assert all(user["ACTIVE"] is True for user in active["result"])
    stages = _get(sandbox_bitrix24_fresh, "crm.status.list", "filter[ENTITY_ID]=DEAL_STAGE_1")
    assert stages["result"][0]["STATUS_ID"] == "C1:NEW"
    assert {s["EXTRA"]["SEMANTICS"] for s in stages["result"]} >= {"process", "success", "failure"}
    leads = _get(sandbox_bitrix24_fresh, "crm.status.list", "filter[ENTITY_ID]=STATUS")
    assert [s["STATUS_ID"] for s in leads["result"]] == [
        "NEW",
        "IN_PROCESS",
        "PROCESSED",
        "CONVERTED",
        "JUNK",
    ]
    heads = _get(sandbox_bitrix24_fresh, "department.get", "sort=ID&order=ASC")
    assert [d["ID"] for d in heads["result"]] == ["1", "2", "3", "4", "5"]
    assert "PARENT" not in heads["result"][0] and heads["result"][1]["UF_HEAD"] == "2"


def test_it_writes_through_rest_with_history(sandbox_bitrix24_fresh: Sandbox) -> None:
    token = sandbox_bitrix24_fresh.control.placement(1)["body"]["AUTH_ID"]
    url = f"{sandbox_bitrix24_fresh.url}/rest"
    created = requests.post(
        f"{url}/crm.deal.add",
        json={"auth": token, "fields": {"TITLE": "REST", "OPPORTUNITY": "1000"}},
        timeout=10,
    )
    deal_id = created.json()["result"]
    assert isinstance(deal_id, int)
    requests.post(
        f"{url}/crm.deal.update",
        data={"auth": token, "id": deal_id, "fields[STAGE_ID]": "WON"},
        timeout=10,
    )
    deal = requests.post(
        f"{url}/crm.deal.get", json={"auth": token, "id": deal_id}, timeout=10
    ).json()["result"]
    assert (deal["STAGE_SEMANTIC_ID"], deal["CLOSED"], deal["OPPORTUNITY"]) == ("S", "Y", "1000.00")
    history = requests.post(
        f"{url}/crm.stagehistory.list",
        json={
            "auth": token,
            "entityTypeId": 2,
            "filter": {"OWNER_ID": deal_id},
            "order": {"ID": "ASC"},
        },
        timeout=10,
    ).json()["result"]["items"]
    assert [(h["TYPE_ID"], h["STAGE_ID"]) for h in history] == [(1, "NEW"), (3, "WON")]
    deleted = requests.post(
        f"{url}/crm.deal.delete", json={"auth": token, "id": deal_id}, timeout=10
    )
    assert deleted.json()["result"] is True


def test_it_stores_notifications(sandbox_bitrix24_fresh: Sandbox) -> None:
    token = sandbox_bitrix24_fresh.control.placement(1)["body"]["AUTH_ID"]
    response = requests.post(
        f"{sandbox_bitrix24_fresh.url}/rest/im.notify.system.add",
        json={"auth": token, "USER_ID": 7, "MESSAGE": "План выполнен на 80%"},
        timeout=10,
    )
    assert isinstance(response.json()["result"], int)
    [note] = sandbox_bitrix24_fresh.control.notifications()
    assert (note["user_id"], note["message"], note["from_user"]) == (7, "План выполнен на 80%", 1)
