"""amoCRM's webhook body → neutral CrmEvents (pure: no database, no network).

A hook is a form-encoded POST of ``{entity}[{action}][{i}][{field}]=…`` plus
``account[id]``/``account[subdomain]`` (AMOCRM.md §5); one body may carry several items, of
several actions. What we keep of each item is which entity changed: the worker re-reads it.
An amoCRM lead is our deal and our lead, so a lead item names both; a task or a call note
names an activity (normalize.activity_crm_id). amoCRM signs nothing: the proof is the secret
token in the hook's URL, which the receiver adds (`proof`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from urllib.parse import parse_qsl

from integrations.amocrm.normalize import activity_crm_id
from integrations.base import CrmEvent
from integrations.errors import InvalidPayload

# leads[status][0][id], task[update][0][id], leads[note][0][note][note_type], unsorted[…]…
_KEY = re.compile(r"^(\w+)\[(\w+)\]\[(\d+)\]((?:\[[^\]]*\])+)$")
LEAD_ACTIONS = {"add": "upsert", "update": "upsert", "status": "upsert",
                "responsible": "upsert", "restore": "upsert", "delete": "delete"}  # fmt: skip
TASK_ACTIONS = {"add": "upsert", "update": "upsert", "responsible": "upsert", "delete": "delete"}
# Note types as hooks number them: 10 an incoming call, 11 an outgoing one (4 is plain text).
CALL_NOTE_TYPES = {"10", "11", "call_in", "call_out"}
MAX_BODY_ITEMS = 500


def _items(pairs: list[tuple[str, str]]) -> dict[tuple[str, str, int], dict[str, str]]:
    """(entity, action, index) → {field path: value}, e.g. {"[id]": "42", "[note][id]": "7"}."""
    items: dict[tuple[str, str, int], dict[str, str]] = defaultdict(dict)
    for key, value in pairs:
        if match := _KEY.match(key):
            entity, action, index, field = match.groups()
            items[(entity, action, int(index))][field] = value
    if len(items) > MAX_BODY_ITEMS:
        raise InvalidPayload(f"{len(items)} items in one hook")
    return items


def _id(value: str | None, what: str) -> int:
    try:
        number = int(value or "")
    except ValueError:
        raise InvalidPayload(f"{what} is not an id: {value!r}") from None
    if number <= 0:
        raise InvalidPayload(f"{what} is not an id: {value!r}")
    return number


def amocrm_events_parse(body: str) -> list[CrmEvent]:
    """Every entity a hook names, as CrmEvents (an empty `known` one when none we follow)."""
    try:
        pairs = parse_qsl(body, keep_blank_values=True, strict_parsing=bool(body))
    except ValueError as error:
        raise InvalidPayload(f"not a form body: {error}") from None
    fields = dict(pairs)
    # Older hooks name the account only inside each item (…[account_id]).
    account = fields.get("account[id]") or next(
        (value for key, value in pairs if key.endswith("[account_id]")), ""
    )
    if not account.isdigit():
        raise InvalidPayload("account[id] is missing")
    events: list[CrmEvent] = []

    def add(name: str, entity_type: str, action: str, entity_id: int) -> None:
        events.append(CrmEvent(name=name, account_id=account, entity_type=entity_type,
                               action=action, entity_id=entity_id))  # fmt: skip

    for (entity, action, _index), item in sorted(_items(pairs).items()):
        name = f"{entity}[{action}]"
        if entity == "leads" and action in LEAD_ACTIONS:
            lead = _id(item.get("[id]"), f"{name} id")
            for entity_type in ("lead", "deal"):
                add(name, entity_type, LEAD_ACTIONS[action], lead)
        elif entity == "leads" and action == "note":
            if item.get("[note][note_type]") in CALL_NOTE_TYPES:
                note = _id(item.get("[note][id]"), f"{name} id")
                add(name, "activity", "upsert", activity_crm_id("note", note))
        elif entity in ("task", "tasks") and action in TASK_ACTIONS:
            task = _id(item.get("[id]"), f"{name} id")
            add(name, "activity", TASK_ACTIONS[action], activity_crm_id("task", task))
        elif entity == "unsorted" and item.get("[action]") == "accept":
            for key, value in item.items():
                if key.startswith("[accept_result][leads]"):
                    for entity_type in ("lead", "deal"):
                        add(name, entity_type, "upsert", _id(value, f"{name} lead"))
    if not events:
        first = next(iter(_items(pairs)), ("", "", 0))
        return [CrmEvent(name=f"{first[0]}[{first[1]}]", account_id=account, known=False)]
    # A hook repeats nothing we need twice: one event per entity and action.
    unique = {(e.entity_type, e.action, e.entity_id): e for e in events}
    return list(unique.values())
