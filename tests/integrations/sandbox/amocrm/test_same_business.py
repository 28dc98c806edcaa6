"""For one seed the Bitrix24 and amoCRM fakes hold the same business: deals, amounts, owners,
stage moves — each read through its own CRM's API."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import requests

from integrations.sandbox import Sandbox
from integrations.sandbox.amocrm import identity as ids

from .helpers import AmoAPI


def _b24_all(sandbox: Sandbox, method: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    token = sandbox.control.placement(1)["body"]["AUTH_ID"]
    rows: list[dict[str, Any]] = []
    start: int | None = 0
    while start is not None:
        body = requests.post(
            f"{sandbox.url}/rest/{method}.json",
            json={**params, "start": start, "auth": token},
            verify=sandbox.info["ca_bundle"],
            timeout=30,
        ).json()
        result = body["result"]
        rows += result["items"] if isinstance(result, dict) else result
        start = body.get("next")
    return rows


def _collapse(stages: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for stage in stages:
        if not out or out[-1] != stage:
            out.append(stage)
    return out


def test_both_fakes_hold_the_same_deals_amounts_owners_and_stage_moves(
    sandbox_bitrix24_fresh: Sandbox, amocrm_api: AmoAPI
) -> None:
    b24 = sandbox_bitrix24_fresh
    select = ["ID", "OPPORTUNITY", "ASSIGNED_BY_ID", "STAGE_ID"]
    deals = _b24_all(b24, "crm.deal.list", {"select": select, "order": {"ID": "ASC"}})
    history = _b24_all(b24, "crm.stagehistory.list", {"entityTypeId": 2, "order": {"ID": "ASC"}})
    leads = {lead["id"]: lead for lead in amocrm_api.all("leads", "leads", {"limit": 250})}
    moves = amocrm_api.all(
        "events",
        "events",
        {"filter[type][]": "lead_status_changed", "filter[entity][]": "lead", "limit": 100},
    )
    # Which amoCRM lead renders which Bitrix24 deal (ids differ by design).
    lead_of = dict(
        amocrm_api.sandbox.portal.store.query(
            "SELECT sim_deal_id, id FROM amo_leads WHERE sim_deal_id IS NOT NULL"
        )
    )
    assert len(deals) == len(lead_of) > 500
    stage_map = ids.stage_map()
    for deal in deals:
        lead = leads[lead_of[int(deal["ID"])]]
        assert lead["price"] == round(float(deal["OPPORTUNITY"] or 0))
        assert lead["responsible_user_id"] == ids.user_id(deal["ASSIGNED_BY_ID"])
        assert (lead["pipeline_id"], lead["status_id"]) == stage_map[deal["STAGE_ID"]]

    b24_path: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for row in history:
        b24_path[lead_of[int(row["OWNER_ID"])]].append(stage_map[row["STAGE_ID"]])
    amo_path: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for event in sorted(moves, key=lambda e: (e["created_at"], e["id"])):
        path = amo_path[event["entity_id"]]
        if not path:
            before = event["value_before"][0]["lead_status"]
            path.append((before["pipeline_id"], before["id"]))
        after = event["value_after"][0]["lead_status"]
        path.append((after["pipeline_id"], after["id"]))
    incoming = ids.incoming(0)
    compared = 0
    for lead_id, expected in b24_path.items():
        path = amo_path.get(lead_id) or [
            (leads[lead_id]["pipeline_id"], leads[lead_id]["status_id"])
        ]
        if path[0] == incoming:  # a converted lead: it waited in the incoming stage first
            path = path[1:]
        assert path == _collapse(expected), lead_id
        compared += 1
    assert compared == len(deals)
    moved = sum(1 for path in b24_path.values() if len(_collapse(path)) > 1)
    assert moved > 300


def test_unconverted_leads_sit_in_the_incoming_stage_or_are_lost_there(amocrm_api: AmoAPI) -> None:
    store = amocrm_api.sandbox.portal.store
    rows = store.query(
        "SELECT a.status_id, a.pipeline_id, l.STATUS_ID FROM amo_leads a JOIN leads l"
        " ON l.ID = a.sim_lead_id WHERE a.sim_deal_id IS NULL"
    )
    pipe, incoming = ids.incoming(0)
    assert rows
    for status, pipeline, sim_status in rows:
        assert pipeline == pipe
        assert status == (ids.LOST if sim_status == "JUNK" else incoming)
