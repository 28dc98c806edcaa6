"""Pure functions turning amoCRM API v4 JSON into neutral records (AMOCRM.md §1, §2).

amoCRM sends times as unix seconds (UTC), ids as integers, and has no lead entity: its "leads"
are our deals. The product's lead figures are computed on them too (REPORTS.md "Lead states"),
so each amoCRM lead is also read as a LeadRecord in one of four neutral lead statuses.

Encodings other code relies on (amoCRM's own ids would collide without them):
- a deal stage is `stage_crm_id(pipeline_id, status_id)` = "pipeline:status": the won (142)
  and lost (143) statuses are the same ids in every pipeline;
- an activity is a task or a call note, two id sequences: `activity_crm_id("task", id)` =
  2·id, `activity_crm_id("note", id)` = 2·id + 1; `activity_source(crm_id)` inverts it;
- a stage-history row of a status change is `history_crm_id(event id, entity_type)`: the
  event's 26-character ULID-like id read as a base-32 number n (`event_number`, ordered as
  the ids are), 2n for the lead's row and 2n + 1 for the deal's, in decimal; the creation
  row of lead N is str(N), far below any event's number.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext, pgettext

from integrations.errors import InvalidPayload
from integrations.records import (
    ActivityRecord,
    DealRecord,
    DepartmentRecord,
    EmployeeRecord,
    LeadRecord,
    PipelineRecord,
    SourceRecord,
    StageChangeRecord,
    StageRecord,
    Utm,
)

WON, LOST = 142, 143
INCOMING_TYPE = 1  # a pipeline status of type 1 is the incoming ("unsorted") stage
SEMANTIC = {WON: "won", LOST: "lost"}
# Task types 1 (call / "follow up") and 2 (meeting) are amoCRM's own; the rest are custom.
TASK_KIND = {1: "call", 2: "meeting"}
CALL_NOTE_TYPES = ("call_in", "call_out")
UTM_CODES = {
    "UTM_SOURCE": "source",
    "UTM_MEDIUM": "medium",
    "UTM_CAMPAIGN": "campaign",
    "UTM_CONTENT": "content",
    "UTM_TERM": "term",
}
# The neutral lead statuses an amoCRM lead is in (REPORTS.md): new = the first stage of its
# pipeline, in work = any other open stage, qualified = won, unqualified = lost.
LEAD_NEW, LEAD_IN_WORK, LEAD_WON, LEAD_LOST = "NEW", "IN_WORK", "WON", "LOST"
_KINDS = {"task": 0, "note": 1}
_BASE32 = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford's alphabet, as ULIDs use
# Every event number is above every lead id (they share the stage-history id space).
_EVENT_FLOOR = 2**64


def stage_crm_id(pipeline_id: int, status_id: int) -> str:
    return f"{int(pipeline_id)}:{int(status_id)}"


def activity_crm_id(kind: str, amo_id: int) -> int:
    """Our activity id of an amoCRM task ("task") or note ("note")."""
    if kind not in _KINDS:
        raise ValueError(f"not an activity source: {kind!r}")
    return 2 * int(amo_id) + _KINDS[kind]


def activity_source(crm_id: int) -> tuple[str, int]:
    """The inverse of activity_crm_id: ("task" | "note", amoCRM id)."""
    amo_id, kind = divmod(int(crm_id), 2)
    return ("note" if kind else "task"), amo_id


def event_number(event_id: str) -> int:
    """An event's id as the number it spells in base 32 (see the module docstring)."""
    text = str(event_id).lower()
    value = 0
    for char in text:
        digit = _BASE32.find(char)
        if digit < 0:
            raise InvalidPayload(f"not an event id: {event_id!r}")
        value = value * 32 + digit
    if value < _EVENT_FLOOR:
        raise InvalidPayload(f"event id too short to order: {event_id!r}")
    return value


def history_crm_id(event_id: str, entity_type: str) -> str:
    """The id of the lead's ("lead") or the deal's ("deal") history row of a status change:
    the two rows of one event are distinct and consecutive, the lead's first."""
    return str(2 * event_number(event_id) + (entity_type == "deal"))


def parse_time(value) -> datetime | None:
    if value in (None, "", 0):
        return None
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError):
        raise InvalidPayload(f"not a unix time: {value!r}") from None


def _required_time(row: dict, key: str) -> datetime:
    value = parse_time(row.get(key))
    if value is None:
        raise InvalidPayload(f"{key} is missing in row {row.get('id')!r}")
    return value


def _id(value) -> int | None:
    if value in (None, "", 0, "0"):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidPayload(f"not an id: {value!r}") from None


def _crm_id(row: dict) -> int:
    crm_id = _id(row.get("id"))
    if crm_id is None:
        raise InvalidPayload(f"row without id: {row!r}")
    return crm_id


def _amount(value) -> Decimal:
    try:
        return Decimal(str(value or 0)).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise InvalidPayload(f"not an amount: {value!r}") from None


def _embedded(row: dict, key: str) -> list:
    return (row.get("_embedded") or {}).get(key) or []


# -- directory ------------------------------------------------------------------------------


def departments_from_amo(groups: Iterable[dict], users: Iterable[dict]) -> list[DepartmentRecord]:
    """User groups (account `_embedded.users_groups`; 0 is the default group) as departments;
    the head is the group's user whose lead view right is "G" (the lowest id if several)."""
    heads: dict[int, int] = {}
    for user in sorted(users, key=lambda u: int(u["id"])):
        rights = user.get("rights") or {}
        if (rights.get("leads") or {}).get("view") == "G" and rights.get("is_active", True):
            heads.setdefault(int(rights.get("group_id") or 0), int(user["id"]))
    return [
        DepartmentRecord(
            crm_id=int(group["id"]),
            name=group.get("name") or f"#{group['id']}",
            sort=(position + 1) * 10,
            head_crm_id=heads.get(int(group["id"])),
        )
        for position, group in enumerate(groups)
    ]


def employee_from_amo(row: dict) -> EmployeeRecord:
    rights = row.get("rights") or {}
    return EmployeeRecord(
        crm_id=_crm_id(row),
        name=row.get("name") or row.get("email") or f"#{row['id']}",
        email=row.get("email") or "",
        active=bool(rights.get("is_active", True)),
        department_crm_id=int(rights.get("group_id") or 0),
    )


def pipeline_from_amo(row: dict) -> PipelineRecord:
    return PipelineRecord(
        crm_id=_crm_id(row),
        name=row.get("name") or "",
        sort=int(row.get("sort") or 500),
        is_default=bool(row.get("is_main")),
    )


def _statuses_in_order(pipeline: dict) -> list[dict]:
    """A pipeline's statuses as amoCRM shows them: the incoming stage first, then by sort."""
    statuses = _embedded(pipeline, "statuses")
    return sorted(
        statuses,
        key=lambda s: (s.get("type") != INCOMING_TYPE, int(s.get("sort") or 0), int(s["id"])),
    )


def first_status(pipeline: dict) -> int | None:
    """The pipeline's first stage: the incoming one where it is on, else the first open one."""
    for status in _statuses_in_order(pipeline):
        if status.get("type") == INCOMING_TYPE and not pipeline.get("is_unsorted_on", True):
            continue
        if int(status["id"]) not in SEMANTIC:
            return int(status["id"])
    return None


def stages_from_amo(pipeline: dict) -> list[StageRecord]:
    """A pipeline's statuses as deal stages (won 142, lost 143, the rest open)."""
    pipeline_id = _crm_id(pipeline)
    return [
        StageRecord(
            entity_type="deal",
            crm_id=stage_crm_id(pipeline_id, status["id"]),
            name=status.get("name") or str(status["id"]),
            semantic=SEMANTIC.get(int(status["id"]), "open"),
            sort=(position + 1) * 10,
            pipeline_crm_id=pipeline_id,
            color=(status.get("color") or "").lower(),
        )
        for position, status in enumerate(_statuses_in_order(pipeline))
    ]


def lead_stages() -> list[StageRecord]:
    """The four neutral lead statuses every amoCRM lead is read in (names in the language
    active at import, as the CRM's own stage names are stored)."""
    rows = [
        (LEAD_NEW, gettext("New (first stage)"), "open"),
        (LEAD_IN_WORK, pgettext("lead state", "In work"), "open"),
        (LEAD_WON, gettext("Won"), "won"),
        (LEAD_LOST, gettext("Lost"), "lost"),
    ]
    return [
        StageRecord(entity_type="lead", crm_id=crm_id, name=name, semantic=semantic,
                    sort=(position + 1) * 10)
        for position, (crm_id, name, semantic) in enumerate(rows)
    ]  # fmt: skip


def lead_status(status_id: int, first_status_id: int | None) -> str:
    """The neutral lead status of an amoCRM lead in `status_id`."""
    status_id = int(status_id)
    if status_id == WON:
        return LEAD_WON
    if status_id == LOST:
        return LEAD_LOST
    return LEAD_NEW if status_id == first_status_id else LEAD_IN_WORK


def sources_from_amo(rows: Iterable[dict]) -> list[SourceRecord]:
    """GET /api/v4/sources names only our own integration's sources; a lead's other source
    ids stay unlabelled (their id is the row's name in reports)."""
    return [SourceRecord(crm_id=str(_crm_id(row)), name=row.get("name") or "") for row in rows]


# -- leads as deals and leads ----------------------------------------------------------------


def utm_from_amo(custom_fields: list | None) -> Utm:
    """UTM marks from the tracking fields, matched by field code (field ids differ per account)."""
    found: dict[str, str] = {}
    for field in custom_fields or []:
        part = UTM_CODES.get(str(field.get("field_code") or "").upper())
        values = field.get("values") or []
        if part and values and part not in found:
            found[part] = str(values[0].get("value") or "")[:255]
    return Utm(**found)


def _main_contact(row: dict) -> int | None:
    contacts = _embedded(row, "contacts")
    main = next((c for c in contacts if c.get("is_main")), contacts[0] if contacts else None)
    return _id(main.get("id")) if main else None


def deal_from_amo(row: dict, *, currency: str = "") -> DealRecord:
    """An amoCRM lead (GET /api/v4/leads with=contacts,source_id) as a deal."""
    pipeline_id = int(row["pipeline_id"])
    status_id = int(row["status_id"])
    companies = _embedded(row, "companies")
    return DealRecord(
        crm_id=_crm_id(row),
        title=(row.get("name") or "")[:255],
        pipeline_crm_id=pipeline_id,
        stage_crm_id=stage_crm_id(pipeline_id, status_id),
        semantic=SEMANTIC.get(status_id, "open"),
        amount=_amount(row.get("price")),
        currency=currency,
        responsible_crm_id=_id(row.get("responsible_user_id")),
        company_crm_id=_id(companies[0].get("id")) if companies else None,
        contact_crm_id=_main_contact(row),
        # The lead a deal came from is itself: cohort revenue follows the same row.
        lead_crm_id=_crm_id(row),
        source=str(row.get("source_id") or ""),
        created_at=_required_time(row, "created_at"),
        modified_at=_required_time(row, "updated_at"),
        close_date=parse_time(row.get("closed_at")),
        utm=utm_from_amo(row.get("custom_fields_values")),
    )


def lead_from_amo(row: dict, *, first_status_id: int | None, currency: str = "") -> LeadRecord:
    """The same amoCRM lead read as a lead (REPORTS.md "Lead states" on amoCRM)."""
    status = lead_status(row["status_id"], first_status_id)
    return LeadRecord(
        crm_id=_crm_id(row),
        title=(row.get("name") or "")[:255],
        status_crm_id=status,
        semantic=SEMANTIC.get(int(row["status_id"]), "open"),
        responsible_crm_id=_id(row.get("responsible_user_id")),
        source=str(row.get("source_id") or ""),
        amount=_amount(row.get("price")),
        currency=currency,
        created_at=_required_time(row, "created_at"),
        modified_at=_required_time(row, "updated_at"),
        closed_at=parse_time(row.get("closed_at")),
        utm=utm_from_amo(row.get("custom_fields_values")),
    )


# -- stage history from events ----------------------------------------------------------------


def _lead_status(values: list | None) -> tuple[int, int]:
    """(pipeline_id, status_id) of an event's value_before / value_after."""
    try:
        status = values[0]["lead_status"]
        return int(status["pipeline_id"]), int(status["id"])
    except (TypeError, KeyError, IndexError, ValueError):
        raise InvalidPayload(f"not a lead status value: {values!r}") from None


def status_change_from_amo(
    event: dict, *, entity_type: str, first_statuses: dict[int, int | None]
) -> StageChangeRecord:
    """A lead_status_changed event as one history row of the deal ("deal") or of the lead
    ("lead", in the neutral lead statuses). `first_statuses`: pipeline id → its first stage."""
    if event.get("type") != "lead_status_changed":
        raise InvalidPayload(f"not a status change: {event.get('type')!r}")
    before_pipeline, _before = _lead_status(event.get("value_before"))
    pipeline_id, status_id = _lead_status(event.get("value_after"))
    if pipeline_id != before_pipeline:
        kind = 5
    elif status_id in SEMANTIC:
        kind = 3
    else:
        kind = 2
    return _history_row(
        crm_id=history_crm_id(event["id"], entity_type),
        entity_type=entity_type,
        owner=int(event["entity_id"]),
        kind=kind,
        pipeline_id=pipeline_id,
        status_id=status_id,
        first_statuses=first_statuses,
        changed_at=_required_time(event, "created_at"),
    )


def creation_from_amo(
    lead: dict,
    first_move: dict | None,
    *,
    entity_type: str,
    first_statuses: dict[int, int | None],
) -> StageChangeRecord:
    """The creation row of a lead: where its earliest status change came from, or where it
    is now if it never moved (amoCRM's lead_added event does not say)."""
    if first_move is not None:
        pipeline_id, status_id = _lead_status(first_move.get("value_before"))
    else:
        pipeline_id, status_id = int(lead["pipeline_id"]), int(lead["status_id"])
    return _history_row(
        crm_id=str(_crm_id(lead)),
        entity_type=entity_type,
        owner=_crm_id(lead),
        kind=1,
        pipeline_id=pipeline_id,
        status_id=status_id,
        first_statuses=first_statuses,
        changed_at=_required_time(lead, "created_at"),
    )


def _history_row(
    *, crm_id, entity_type, owner, kind, pipeline_id, status_id, first_statuses, changed_at
) -> StageChangeRecord:
    if entity_type == "lead":
        stage, pipeline = lead_status(status_id, first_statuses.get(pipeline_id)), None
    else:
        stage, pipeline = stage_crm_id(pipeline_id, status_id), pipeline_id
    return StageChangeRecord(
        crm_id=crm_id,
        entity_type=entity_type,
        owner_crm_id=owner,
        kind=kind,
        pipeline_crm_id=pipeline,
        stage_crm_id=stage,
        semantic=SEMANTIC.get(status_id, "open"),
        changed_at=changed_at,
    )


# -- activities -----------------------------------------------------------------------------


def _owner(row: dict) -> tuple[str, int]:
    """What a task or note is bound to; notes are read from /leads/notes, which names no type."""
    entity_type = {"leads": "deal", "contacts": "contact", "companies": "company"}
    owner = entity_type.get(row.get("entity_type") or "leads", "other")
    return owner, _id(row.get("entity_id")) or 0


def activity_from_task(row: dict, *, completed_at: datetime | None = None) -> ActivityRecord:
    """A task: type 1 a call, 2 a meeting, others other. It happens when it is completed
    (the task_completed event's time, `completed_at`; without one, its last update)."""
    completed = bool(row.get("is_completed"))
    owner_type, owner_id = _owner(row)
    happened = completed_at or parse_time(row.get("updated_at"))
    return ActivityRecord(
        crm_id=activity_crm_id("task", _crm_id(row)),
        kind=TASK_KIND.get(_id(row.get("task_type_id")) or 0, "other"),
        subject=(row.get("text") or "")[:255],
        responsible_crm_id=_id(row.get("responsible_user_id")),
        owner_type=owner_type,
        owner_crm_id=owner_id,
        created_at=_required_time(row, "created_at"),
        deadline=parse_time(row.get("complete_till")),
        completed=completed,
        completed_at=happened if completed else None,
    )


def activity_from_call_note(row: dict) -> ActivityRecord:
    """A call_in / call_out note: a call made when the note was created."""
    if row.get("note_type") not in CALL_NOTE_TYPES:
        raise InvalidPayload(f"not a call note: {row.get('note_type')!r}")
    params = row.get("params") or {}
    if isinstance(params, str):
        params = json.loads(params or "{}")
    created = _required_time(row, "created_at")
    owner_type, owner_id = _owner(row)
    direction = (
        gettext("Incoming call") if row["note_type"] == "call_in" else gettext("Outgoing call")
    )
    phone = str(params.get("phone") or "")
    return ActivityRecord(
        crm_id=activity_crm_id("note", _crm_id(row)),
        kind="call",
        subject=f"{direction} {phone}".strip()[:255],
        responsible_crm_id=_id(row.get("responsible_user_id")),
        owner_type=owner_type,
        owner_crm_id=owner_id,
        created_at=created,
        deadline=None,
        completed=True,
        completed_at=created,
    )
