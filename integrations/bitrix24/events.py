"""Pure parsing of Bitrix24 outbound events (form-encoded, PHP bracket notation).

https://apidocs.bitrix24.com/api-reference/events/index.html — `event`, `event_handler_id`,
`data[FIELDS][ID]`, `ts`, `auth[...]`. The SDK's OAuthEventData insists on `auth[expires]`
whenever a token is present, which the documented ONAPPINSTALL and CRM samples do not carry,
so the parse is ours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

from integrations.errors import InvalidPayload

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")

# Event name → (entity type, action). Anything else we neither bound nor use.
CRM_EVENTS = {
    "ONCRMDEALADD": ("deal", "upsert"),
    "ONCRMDEALUPDATE": ("deal", "upsert"),
    "ONCRMDEALMOVETOCATEGORY": ("deal", "upsert"),
    "ONCRMDEALDELETE": ("deal", "delete"),
    "ONCRMLEADADD": ("lead", "upsert"),
    "ONCRMLEADUPDATE": ("lead", "upsert"),
    "ONCRMLEADDELETE": ("lead", "delete"),
    "ONCRMACTIVITYADD": ("activity", "upsert"),
    "ONCRMACTIVITYUPDATE": ("activity", "upsert"),
    "ONCRMACTIVITYDELETE": ("activity", "delete"),
}
APP_EVENTS = {"ONAPPINSTALL", "ONAPPUNINSTALL"}


@dataclass(frozen=True)
class Bitrix24Event:
    name: str
    member_id: str
    domain: str
    application_token: str
    ts: int
    entity_type: str = ""
    action: str = ""
    entity_id: int | None = None
    clean: bool = False
    access_token: str = ""
    refresh_token: str = ""

    @property
    def is_known(self) -> bool:
        return self.name in CRM_EVENTS or self.name in APP_EVENTS


def form_nested(body: str) -> dict:
    """`a[b][c]=v` pairs into nested dicts, as PHP's $_POST would see them."""
    result: dict = {}
    for key, value in parse_qsl(body, keep_blank_values=True, strict_parsing=False):
        match = _KEY.match(key)
        if not match:
            raise InvalidPayload(f"malformed form key {_shown(key)}")
        path = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        node = result
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise InvalidPayload(f"conflicting form key {_shown(key)}")
        node[path[-1]] = value
    return result


def _shown(key: str, limit: int = 80) -> str:
    """A hostile key can be half a megabyte: logs and answers show its start only."""
    return repr(key[:limit]) + (f" … ({len(key)} characters)" if len(key) > limit else "")


def bitrix24_event_parse(body: str) -> Bitrix24Event:
    """The event in a request body; InvalidPayload when it is not a Bitrix24 event."""
    form = form_nested(body)
    auth = form.get("auth")
    name = form.get("event")
    if not isinstance(name, str) or not name or not isinstance(auth, dict):
        raise InvalidPayload("not a Bitrix24 event: `event` and `auth` are required")
    for field in ("member_id", "domain", "application_token"):
        if not isinstance(auth.get(field), str) or not auth[field]:
            raise InvalidPayload(f"auth[{field}] is missing")
    try:
        ts = int(form.get("ts", "0"))
    except ValueError:
        raise InvalidPayload("ts is not a unix time") from None
    name = name.upper()
    data = form.get("data") if isinstance(form.get("data"), dict) else {}
    entity_type, action, entity_id = "", "", None
    if name in CRM_EVENTS:
        entity_type, action = CRM_EVENTS[name]
        fields = data.get("FIELDS") if isinstance(data.get("FIELDS"), dict) else {}
        raw = str(fields.get("ID", ""))
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
            raise InvalidPayload(f"{name} without a numeric data[FIELDS][ID]")
        entity_id = int(raw)
    return Bitrix24Event(
        name=name,
        member_id=auth["member_id"],
        domain=auth["domain"],
        application_token=auth["application_token"],
        ts=ts,
        entity_type=entity_type,
        action=action,
        entity_id=entity_id,
        clean=str(data.get("CLEAN", "0")) == "1",
        access_token=auth.get("access_token") or "",
        refresh_token=auth.get("refresh_token") or "",
    )
