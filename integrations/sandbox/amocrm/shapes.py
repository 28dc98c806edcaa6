"""Stored amoCRM rows → API v4 JSON, in the documented shapes (AMOCRM.md §1, fixtures
``amocrm_api_v4_*``). ``base`` is the account's address (``https://host:port``)."""

from __future__ import annotations

import json
from typing import Any

from . import identity as ids

LEAD_COLUMNS = (
    "id name price responsible_user_id group_id status_id pipeline_id loss_reason_id source_id "
    "created_by updated_by created_at updated_at closed_at is_deleted company_id contact_id "
    "utm_source utm_medium utm_campaign utm_content utm_term"
).split()
TASK_COLUMNS = (
    "id entity_id entity_type task_type_id text result is_completed complete_till duration "
    "responsible_user_id group_id created_by updated_by created_at updated_at completed_at"
).split()
NOTE_COLUMNS = (
    "id entity_id entity_type note_type params responsible_user_id group_id created_by "
    "updated_by created_at updated_at"
).split()
CONTACT_COLUMNS = (
    "id name first_name last_name responsible_user_id group_id created_by updated_by "
    "created_at updated_at company_id"
).split()
COMPANY_COLUMNS = (
    "id name responsible_user_id group_id created_by updated_by created_at updated_at"
).split()
EVENT_COLUMNS = (
    "n id type entity_type entity_id created_by created_at value_before value_after"
).split()


def link(base: str, path: str) -> dict[str, Any]:
    """``{"self": {"href": ...}}``."""
    return {"self": {"href": f"{base}/api/v4/{path}"}}


def _utm(row: dict[str, Any]) -> list[dict[str, Any]] | None:
    fields = [
        {
            "field_id": field_id,
            "field_name": name,
            "field_code": code,
            "field_type": "tracking_data",
            "values": [{"value": row[name]}],
        }
        for field_id, name, code in ids.UTM_FIELDS
        if row.get(name)
    ]
    return fields or None


def loss_reason(base: str, reason_id: int) -> dict[str, Any]:
    """One loss reason (``amocrm_api_v4_loss_reasons.json``)."""
    position = reason_id - ids.LOSS_REASON_BASE - 1
    return {
        "id": reason_id,
        "name": ids.LOSS_REASONS[position],
        "sort": position * 10,
        "created_at": 1_600_000_000,
        "updated_at": 1_600_000_000,
        "_links": link(base, f"leads/loss_reasons/{reason_id}"),
    }


def lead(base: str, account_id: int, row: dict[str, Any], with_: set[str]) -> dict[str, Any]:
    """A lead as ``GET /api/v4/leads`` gives it (``with_``: contacts, loss_reason, source_id)."""
    lead_id = row["id"]
    if "only_deleted" in with_:
        return {
            "id": lead_id,
            "updated_by": row["updated_by"],
            "updated_at": row["updated_at"],
            "is_deleted": True,
            "account_id": account_id,
            "_links": link(base, f"leads/{lead_id}"),
        }
    embedded: dict[str, Any] = {"tags": [], "companies": []}
    if row["company_id"]:
        embedded["companies"] = [
            {"id": row["company_id"], "_links": link(base, f"companies/{row['company_id']}")}
        ]
    if "contacts" in with_:
        embedded["contacts"] = (
            [
                {
                    "id": row["contact_id"],
                    "is_main": True,
                    "_links": link(base, f"contacts/{row['contact_id']}"),
                }
            ]
            if row["contact_id"]
            else []
        )
    if "loss_reason" in with_:
        embedded["loss_reason"] = (
            [loss_reason(base, row["loss_reason_id"])] if row["loss_reason_id"] else []
        )
    body: dict[str, Any] = {
        "id": lead_id,
        "name": row["name"],
        "price": row["price"],
        "responsible_user_id": row["responsible_user_id"],
        "group_id": row["group_id"],
        "status_id": row["status_id"],
        "pipeline_id": row["pipeline_id"],
        "loss_reason_id": row["loss_reason_id"],
        "created_by": row["created_by"],
        "updated_by": row["updated_by"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "closed_at": row["closed_at"],
        "closest_task_at": None,
        "is_deleted": bool(row["is_deleted"]),
        "custom_fields_values": _utm(row),
        "score": None,
        "account_id": account_id,
        "labor_cost": None,
        "is_price_modified_by_robot": False,
        "_links": link(base, f"leads/{lead_id}"),
        "_embedded": embedded,
    }
    if "source_id" in with_:
        body["source_id"] = row["source_id"]
    return body


def contact(base: str, account_id: int, row: dict[str, Any]) -> dict[str, Any]:
    """A contact (``amocrm_api_v4_contacts_list.json``)."""
    companies = (
        [{"id": row["company_id"], "_links": link(base, f"companies/{row['company_id']}")}]
        if row["company_id"]
        else []
    )
    return {
        "id": row["id"],
        "name": row["name"],
        "first_name": row["first_name"] or "",
        "last_name": row["last_name"] or "",
        "responsible_user_id": row["responsible_user_id"],
        "group_id": row["group_id"],
        "created_by": row["created_by"],
        "updated_by": row["updated_by"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "closest_task_at": None,
        "is_deleted": False,
        "is_unsorted": False,
        "custom_fields_values": None,
        "account_id": account_id,
        "_links": link(base, f"contacts/{row['id']}"),
        "_embedded": {"tags": [], "companies": companies},
    }


def company(base: str, account_id: int, row: dict[str, Any]) -> dict[str, Any]:
    """A company (``amocrm_api_v4_companies_list.json``)."""
    return {
        "id": row["id"],
        "name": row["name"],
        "responsible_user_id": row["responsible_user_id"],
        "group_id": row["group_id"],
        "created_by": row["created_by"],
        "updated_by": row["updated_by"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "closest_task_at": None,
        "is_deleted": False,
        "custom_fields_values": None,
        "account_id": account_id,
        "_links": link(base, f"companies/{row['id']}"),
        "_embedded": {"tags": []},
    }


def task(base: str, account_id: int, row: dict[str, Any]) -> dict[str, Any]:
    """A task; ``result`` is ``[]`` when empty and ``{"text"}`` when set (AMOCRM.md §1)."""
    return {
        "id": row["id"],
        "created_by": row["created_by"],
        "updated_by": row["updated_by"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "responsible_user_id": row["responsible_user_id"],
        "group_id": row["group_id"],
        "entity_id": row["entity_id"],
        "entity_type": row["entity_type"],
        "duration": row["duration"],
        "is_completed": bool(row["is_completed"]),
        "task_type_id": row["task_type_id"],
        "text": row["text"],
        "result": {"text": row["result"]} if row["result"] else [],
        "complete_till": row["complete_till"],
        "account_id": account_id,
        "_links": link(base, f"tasks/{row['id']}"),
    }


def note(base: str, account_id: int, row: dict[str, Any]) -> dict[str, Any]:
    """A lead note (``amocrm_api_v4_leads_notes_calls_constructed.json``)."""
    return {
        "id": row["id"],
        "entity_id": row["entity_id"],
        "created_by": row["created_by"],
        "updated_by": row["updated_by"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "responsible_user_id": row["responsible_user_id"],
        "group_id": row["group_id"],
        "note_type": row["note_type"],
        "params": json.loads(row["params"]),
        "account_id": account_id,
        "_links": link(base, f"leads/{row['entity_id']}/notes/{row['id']}"),
    }


_ENTITY_PATH = {"lead": "leads", "task": "tasks", "contact": "contacts", "company": "companies"}


def event(base: str, account_id: int, row: dict[str, Any]) -> dict[str, Any]:
    """An event (``amocrm_api_v4_events_list_lead_added.json``)."""
    path = _ENTITY_PATH.get(row["entity_type"], row["entity_type"])
    return {
        "id": row["id"],
        "type": row["type"],
        "entity_id": row["entity_id"],
        "entity_type": row["entity_type"],
        "created_by": row["created_by"],
        "created_at": row["created_at"],
        "value_after": json.loads(row["value_after"]),
        "value_before": json.loads(row["value_before"]),
        "account_id": account_id,
        "_links": link(base, f"events/{row['id']}"),
        "_embedded": {
            "entity": {"id": row["entity_id"], "_links": link(base, f"{path}/{row['entity_id']}")}
        },
    }


def user(base: str, row: dict[str, Any], with_: set[str]) -> dict[str, Any]:
    """A user; ``is_admin``, ``is_active`` and ``group_id`` live in ``rights``."""
    body = {**row, "_links": link(base, f"users/{row['id']}")}
    embedded: dict[str, Any] = {}
    if "role" in with_:
        embedded["roles"] = []
    if "group" in with_:
        group = row["rights"]["group_id"]
        embedded["groups"] = [g for g in ids.groups() if g["id"] == group and group]
        embedded["groups"] = [{"id": g["id"], "name": g["name"]} for g in embedded["groups"]]
    if embedded:
        body["_embedded"] = embedded
    return body


def pipeline(base: str, account_id: int, category: int, name: str, sort: int) -> dict[str, Any]:
    """A pipeline with its statuses (``amocrm_api_v4_pipelines.json``)."""
    pipe = ids.pipeline_id(category)
    statuses = [
        {
            "id": status.id,
            "name": status.name,
            "sort": status.sort,
            "is_editable": status.type == 0 and status.id not in (ids.WON, ids.LOST),
            "pipeline_id": pipe,
            "color": status.color,
            "type": status.type,
            "account_id": account_id,
            "_links": link(base, f"leads/pipelines/{pipe}/statuses/{status.id}"),
        }
        for status in ids.statuses(category)
    ]
    return {
        "id": pipe,
        "name": name,
        "sort": sort,
        "is_main": category == 0,
        "is_unsorted_on": True,
        "is_archive": False,
        "account_id": account_id,
        "_links": link(base, f"leads/pipelines/{pipe}"),
        "_embedded": {"statuses": statuses},
    }
