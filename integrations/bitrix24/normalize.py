"""Pure functions turning Bitrix24 REST rows into neutral records.

Bitrix24 sends every scalar as a string (or null), ids of "nothing" as "0", dates as ISO-8601
with the portal's offset: https://apidocs.bitrix24.com/api-reference/crm/data-types.html
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from integrations.errors import InvalidPayload
from integrations.records import (
    ActivityRecord,
    DealRecord,
    DepartmentRecord,
    EmployeeRecord,
    LeadRecord,
    PaidStateRecord,
    PipelineRecord,
    SourceRecord,
    StageChangeRecord,
    StageRecord,
    Utm,
)

# STAGE_SEMANTIC_ID / STATUS_SEMANTIC_ID: P process, S success, F failure.
SEMANTIC = {"P": "open", "S": "won", "F": "lost", None: "open", "": "open"}
# crm.activity TYPE_ID: https://apidocs.bitrix24.com/api-reference/crm/timeline/activities/
ACTIVITY_KIND = {"1": "meeting", "2": "call", "3": "task", "4": "email"}
TASK_PROVIDERS = {"CRM_TODO", "TASKS_TASK"}
OWNER_TYPE = {"1": "lead", "2": "deal", "3": "contact", "4": "company"}
ENTITY_TYPE_ID = {"lead": 1, "deal": 2}


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidPayload(f"not an ISO-8601 date: {value!r}") from None
    if parsed.tzinfo is None:
        raise InvalidPayload(f"date without a time zone offset: {value!r}")
    return parsed


def _required_time(row: dict, key: str) -> datetime:
    value = parse_time(row.get(key))
    if value is None:
        raise InvalidPayload(f"{key} is missing in row {row.get('ID')!r}")
    return value


def _id(value) -> int | None:
    """A Bitrix24 reference: "0", "" and null all mean "none"."""
    if value in (None, "", "0", 0):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidPayload(f"not an id: {value!r}") from None


def _crm_id(row: dict) -> int:
    crm_id = _id(row.get("ID"))
    if crm_id is None:
        raise InvalidPayload(f"row without ID: {row!r}")
    return crm_id


def _amount(value) -> Decimal:
    try:
        return Decimal(value or "0").quantize(Decimal("0.01"))
    except InvalidOperation:
        raise InvalidPayload(f"not an amount: {value!r}") from None


def _utm(row: dict) -> Utm:
    return Utm(
        source=row.get("UTM_SOURCE") or "",
        medium=row.get("UTM_MEDIUM") or "",
        campaign=row.get("UTM_CAMPAIGN") or "",
        content=row.get("UTM_CONTENT") or "",
        term=row.get("UTM_TERM") or "",
    )


def department_from_b24(row: dict) -> DepartmentRecord:
    return DepartmentRecord(
        crm_id=_crm_id(row),
        name=row.get("NAME") or "",
        sort=int(row.get("SORT") or 500),
        parent_crm_id=_id(row.get("PARENT")),
        head_crm_id=_id(row.get("UF_HEAD")),
    )


def employee_from_b24(row: dict) -> EmployeeRecord:
    name = " ".join(part for part in (row.get("NAME"), row.get("LAST_NAME")) if part)
    departments = row.get("UF_DEPARTMENT") or []
    return EmployeeRecord(
        crm_id=_crm_id(row),
        name=name or row.get("EMAIL") or f"#{row['ID']}",
        email=row.get("EMAIL") or "",
        active=row.get("ACTIVE") in (True, "Y", "true", "1"),
        department_crm_id=_id(departments[0]) if departments else None,
    )


def pipeline_from_b24(row: dict) -> PipelineRecord:
    """A row of crm.category.list (camelCase, ints; the default pipeline has id 0)."""
    return PipelineRecord(
        crm_id=int(row["id"]),
        name=row.get("name") or "",
        sort=int(row.get("sort") or 500),
        is_default=row.get("isDefault") in ("Y", True),
    )


def stage_from_b24(row: dict) -> StageRecord | SourceRecord | None:
    """A row of crm.status.list: a deal stage, a lead status, a source, or something else."""
    entity = row.get("ENTITY_ID") or ""
    semantics = row.get("SEMANTICS") or (row.get("EXTRA") or {}).get("SEMANTICS")
    semantic = {"S": "won", "F": "lost", "success": "won", "failure": "lost", "apology": "lost"}
    if entity == "SOURCE":
        return SourceRecord(crm_id=row["STATUS_ID"], name=row.get("NAME") or row["STATUS_ID"])
    if entity == "STATUS":
        pipeline = None
        entity_type = "lead"
    elif entity == "DEAL_STAGE" or entity.startswith("DEAL_STAGE_"):
        pipeline = int(entity.removeprefix("DEAL_STAGE").lstrip("_") or 0)
        entity_type = "deal"
    else:
        return None
    return StageRecord(
        entity_type=entity_type,
        crm_id=row["STATUS_ID"],
        name=row.get("NAME") or row["STATUS_ID"],
        semantic=semantic.get(semantics, "open"),
        sort=int(row.get("SORT") or 500),
        pipeline_crm_id=pipeline,
        color=row.get("COLOR") or "",
    )


def lead_from_b24(row: dict) -> LeadRecord:
    return LeadRecord(
        crm_id=_crm_id(row),
        title=row.get("TITLE") or "",
        status_crm_id=row.get("STATUS_ID") or "",
        semantic=SEMANTIC.get(row.get("STATUS_SEMANTIC_ID"), "open"),
        responsible_crm_id=_id(row.get("ASSIGNED_BY_ID")),
        source=row.get("SOURCE_ID") or "",
        amount=_amount(row.get("OPPORTUNITY")),
        currency=row.get("CURRENCY_ID") or "",
        created_at=_required_time(row, "DATE_CREATE"),
        modified_at=_required_time(row, "DATE_MODIFY"),
        closed_at=parse_time(row.get("DATE_CLOSED")),
        moved_at=parse_time(row.get("MOVED_TIME")),
        utm=_utm(row),
    )


def deal_from_b24(row: dict) -> DealRecord:
    return DealRecord(
        crm_id=_crm_id(row),
        title=row.get("TITLE") or "",
        pipeline_crm_id=int(row.get("CATEGORY_ID") or 0),
        stage_crm_id=row.get("STAGE_ID") or "",
        semantic=SEMANTIC.get(row.get("STAGE_SEMANTIC_ID"), "open"),
        amount=_amount(row.get("OPPORTUNITY")),
        currency=row.get("CURRENCY_ID") or "",
        responsible_crm_id=_id(row.get("ASSIGNED_BY_ID")),
        company_crm_id=_id(row.get("COMPANY_ID")),
        contact_crm_id=_id(row.get("CONTACT_ID")),
        lead_crm_id=_id(row.get("LEAD_ID")),
        source=row.get("SOURCE_ID") or "",
        created_at=_required_time(row, "DATE_CREATE"),
        modified_at=_required_time(row, "DATE_MODIFY"),
        close_date=parse_time(row.get("CLOSEDATE")),
        moved_at=parse_time(row.get("MOVED_TIME")),
        utm=_utm(row),
    )


def activity_kind(type_id: str | None, provider_id: str | None) -> str:
    if type_id == "6" and provider_id in TASK_PROVIDERS:
        return "task"
    return ACTIVITY_KIND.get(str(type_id), "other")


def activity_from_b24(row: dict) -> ActivityRecord:
    completed = row.get("COMPLETED") == "Y"
    # An activity "happens" at its END_TIME (DESIGN.md); a completed one without it, when
    # it was last updated (that is when it was marked done).
    happened = parse_time(row.get("END_TIME")) or parse_time(row.get("LAST_UPDATED"))
    return ActivityRecord(
        crm_id=_crm_id(row),
        kind=activity_kind(row.get("TYPE_ID"), row.get("PROVIDER_ID")),
        subject=(row.get("SUBJECT") or "")[:255],
        responsible_crm_id=_id(row.get("RESPONSIBLE_ID")),
        owner_type=OWNER_TYPE.get(str(row.get("OWNER_TYPE_ID")), "other"),
        owner_crm_id=_id(row.get("OWNER_ID")) or 0,
        created_at=_required_time(row, "CREATED"),
        deadline=parse_time(row.get("DEADLINE")),
        completed=completed,
        completed_at=happened if completed else None,
    )


def stage_change_from_b24(row: dict, *, entity_type: str) -> StageChangeRecord:
    """A crm.stagehistory.list item (ints; leads carry STATUS_*, deals STAGE_* and CATEGORY_ID)."""
    stage = row.get("STAGE_ID") if entity_type == "deal" else row.get("STATUS_ID")
    semantic = (
        row.get("STAGE_SEMANTIC_ID") if entity_type == "deal" else row.get("STATUS_SEMANTIC_ID")
    )
    category = row.get("CATEGORY_ID")
    return StageChangeRecord(
        crm_id=str(row["ID"]),
        entity_type=entity_type,
        owner_crm_id=int(row["OWNER_ID"]),
        kind=int(row.get("TYPE_ID") or 2),
        pipeline_crm_id=int(category) if category is not None else None,
        stage_crm_id=stage or "",
        semantic=SEMANTIC.get(semantic, "open"),
        changed_at=_required_time(row, "CREATED_TIME"),
    )


# app.info STATUS: F free, D demo, T trial, P paid, L local, S subscription; PAYMENT_EXPIRED Y|N;
# DAYS: days left of the paid (or trial) period.
# https://apidocs.bitrix24.com/api-reference/common/system/app-info.html,
# https://dev.1c-bitrix.ru/rest_help/general/events/onapppayment.php
PAID_STATUSES = {"P", "S"}


def paid_state_from_b24(row: dict, *, paid_tier: str) -> PaidStateRecord:
    """The portal-side app.info result: a paid, unexpired app is `paid_tier` (app.info names
    no plan); anything else is unpaid. Bitrix24's own trial (T) is not a subscription: our
    trial, from the first install, covers it."""
    status = str(row.get("STATUS") or "").upper()
    expired = str(row.get("PAYMENT_EXPIRED") or "N").upper() == "Y"
    if status not in PAID_STATUSES or expired:
        return PaidStateRecord(tier=None)
    days = row.get("DAYS")
    try:
        days_left = None if days in (None, "") else max(0, int(days))
    except (TypeError, ValueError) as error:
        raise InvalidPayload(f"app.info DAYS is not a number: {days!r}") from error
    return PaidStateRecord(tier=paid_tier, days_left=days_left)
