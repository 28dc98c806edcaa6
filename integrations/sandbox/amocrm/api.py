"""API v4 of the sandbox account: the reads and writes our integration uses (AMOCRM.md §1, §5).

Lists are HAL: ``_page``, ``_links.self/next``, ``_embedded.<entity>``; no totals on entity lists;
250 a page at most (events 100), a larger ``limit`` silently gives 50; an empty page is 204.
Every answer is ``(status, body)``; ``body`` ``None`` means no content.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from .. import reference
from . import identity as ids
from . import shapes
from .account import Account
from .errors import ApiError, validation
from .webhooks import SETTINGS

DEFAULT_LIMIT = 50
#: How the account names its leads ("сделка" in every grammatical case amoCRM asks for).
ENTITY_NAMES = {
    "leads": {
        "ru": {
            "gender": "f",
            "plural_form": {"dative": "сделкам", "default": "сделки", "genitive": "сделок",
                            "accusative": "сделки", "instrumental": "сделками",
                            "prepositional": "сделках"},
            "singular_form": {"dative": "сделке", "default": "сделка", "genitive": "сделки",
                              "accusative": "сделку", "instrumental": "сделкой",
                              "prepositional": "сделке"},
        },
        "en": {"singular_form": {"default": "lead"}, "plural_form": {"default": "leads"},
               "gender": "f"},
        "es": {"singular_form": {"default": "acuerdo"}, "plural_form": {"default": "acuerdos"},
               "gender": "m"},
    }
}  # fmt: skip
Answer = tuple[int, Any]


@dataclass
class Request:
    """One API call after authentication."""

    account: Account
    verb: str
    path: str
    query: dict[str, Any]
    body: Any
    user_id: int

    @property
    def base(self) -> str:
        return self.account.base_url

    @property
    def account_id(self) -> int:
        return self.account.identity.account_id

    def with_(self) -> set[str]:
        return {part.strip() for part in str(self.query.get("with") or "").split(",") if part}

    def filters(self) -> dict[str, Any]:
        value = self.query.get("filter") or {}
        return value if isinstance(value, dict) else {}


def _ints(value: Any) -> list[int]:
    """``filter[x]=1``, ``filter[x][]=1&…``, ``filter[x]=1,2`` → ``[1, 2]``."""
    if isinstance(value, dict):
        value = list(value.values())
    if not isinstance(value, list):
        value = str(value).split(",")
    try:
        return [int(v) for v in value if str(v) != ""]
    except (TypeError, ValueError) as error:
        raise ApiError(400, "Request validation failed") from error


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        value = list(value.values())
    if not isinstance(value, list):
        value = str(value).split(",")
    return [str(v) for v in value if str(v) != ""]


def _range(column: str, value: Any, where: list[str], args: list[Any], *, after: bool) -> None:
    """``filter[c][from]/[to]``; a bare integer means "equal" (leads) or "after" (events, tasks)."""
    if isinstance(value, dict):
        if "from" in value:
            where.append(f"{column} >= ?")
            args.append(_ints(value["from"])[0])
        if "to" in value:
            where.append(f"{column} <= ?")
            args.append(_ints(value["to"])[0])
        return
    where.append(f"{column} {'>=' if after else '='} ?")
    args.append(_ints(value)[0])


def _in(column: str, values: list[Any], where: list[str], args: list[Any]) -> None:
    where.append(f"{column} IN ({', '.join('?' for _ in values)})" if values else "0")
    args.extend(values)


def _page(
    request: Request,
    *,
    table: str,
    columns: list[str],
    where: list[str],
    args: list[Any],
    order: str,
    key: str,
    render: Callable[[dict[str, Any]], dict[str, Any]],
    max_limit: int = 250,
) -> Answer:
    """One HAL page; 204 when it is empty."""
    try:
        page = max(1, int(request.query.get("page") or 1))
        limit = int(request.query.get("limit") or DEFAULT_LIMIT)
    except ValueError as error:
        raise ApiError(400, "Request validation failed") from error
    if limit <= 0 or limit > max_limit:
        limit = DEFAULT_LIMIT
    sql = (
        f"SELECT {', '.join(columns)} FROM {table} WHERE {' AND '.join(where) or '1'}"  # noqa: S608
        f" ORDER BY {order} LIMIT ? OFFSET ?"
    )
    rows = request.account.store.query(sql, [*args, limit + 1, (page - 1) * limit])
    if not rows:
        return 204, None
    query = {k: v for k, v in request.query.items() if k not in ("page", "limit")}

    def href(number: int) -> dict[str, str]:
        flat = [*_flat_query(query), ("limit", str(limit)), ("page", str(number))]
        return {"href": f"{request.base}{request.path}?{urlencode(flat)}"}

    links = {"self": href(page)}
    if len(rows) > limit:
        links["next"] = href(page + 1)
    if page > 1:
        links["first"] = href(1)
        links["prev"] = href(page - 1)
    items = [render(dict(zip(columns, row, strict=True))) for row in rows[:limit]]
    return 200, {"_page": page, "_links": links, "_embedded": {key: items}}


def _flat_query(query: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for name, value in query.items():
        full = f"{prefix}[{name}]" if prefix else name
        if isinstance(value, dict):
            pairs += _flat_query(value, full)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    pairs += _flat_query(item, f"{full}[{index}]")
                else:
                    pairs.append((f"{full}[]", str(item)))
        else:
            pairs.append((full, str(value)))
    return pairs


def _order(request: Request, allowed: tuple[str, ...], default: str) -> str:
    order = request.query.get("order")
    if isinstance(order, dict):
        for column, direction in order.items():
            if column in allowed and str(direction).lower() in ("asc", "desc"):
                return f"{column} {str(direction).upper()}, id {str(direction).upper()}"
        raise ApiError(400, "Request validation failed")
    return default


# --- account, users, pipelines ------------------------------------------------------------------
def account(request: Request) -> Answer:
    acc = request.account
    with_ = request.with_()
    body: dict[str, Any] = {
        "id": request.account_id,
        "name": "ООО «Вектор»",
        "subdomain": acc.identity.subdomain,
        "current_user_id": request.user_id,
        "country": "RU",
        "customers_mode": "disabled",
        "is_unsorted_on": True,
        "is_loss_reason_enabled": True,
        "is_helpbot_enabled": False,
        "is_technical_account": False,
        "contact_name_display_order": 1,
        "_links": {"self": {"href": f"{request.base}/api/v4/account"}},
    }
    embedded: dict[str, Any] = {}
    if "users_groups" in with_:
        embedded["users_groups"] = ids.groups()
    if "task_types" in with_:
        embedded["task_types"] = [dict(t) for t in ids.TASK_TYPES]
    if "datetime_settings" in with_:
        embedded["datetime_settings"] = {
            "date_pattern": "d.m.Y H:i",
            "short_date_pattern": "d.m.Y",
            "short_time_pattern": "H:i",
            "date_formant": "d.m.Y",
            "time_format": "H:i:s",
            "timezone": "Europe/Moscow",
            "timezone_offset": "+03:00",
        }
    identity = acc.identity
    if "amojo_id" in with_:
        body["amojo_id"] = _uuid(f"amojo-{identity.account_id}")
    body["uuid"] = _uuid(f"account-{identity.account_id}")
    if "amojo_rights" in with_:
        embedded["amojo_rights"] = {"can_direct": True, "can_create_groups": True}
    if "drive_url" in with_:
        body["drive_url"] = f"{request.base}/drive"
    if "entity_names" in with_:
        body["entity_names"] = ENTITY_NAMES
    if "version" in with_:
        body["version"] = 16
    if "is_api_filter_enabled" in with_:
        body["is_api_filter_enabled"] = True
    if embedded:
        body["_embedded"] = embedded
    return 200, body


def _uuid(seed: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, seed))


def _require_admin(request: Request) -> None:
    if not request.account.is_admin(request.user_id):
        raise ApiError(403, "Access denied")


def users(request: Request) -> Answer:
    _require_admin(request)
    everyone = request.account.users
    try:
        page = max(1, int(request.query.get("page") or 1))
        limit = int(request.query.get("limit") or DEFAULT_LIMIT)
    except ValueError as error:
        raise ApiError(400, "Request validation failed") from error
    limit = limit if 0 < limit <= 250 else DEFAULT_LIMIT
    chunk = everyone[(page - 1) * limit : page * limit]
    if not chunk:
        return 204, None
    with_ = request.with_()
    pages = (len(everyone) + limit - 1) // limit
    href = f"{request.base}/api/v4/users?limit={limit}&page="
    links: dict[str, Any] = {"self": {"href": f"{href}{page}"}}
    if page < pages:
        links["next"] = {"href": f"{href}{page + 1}"}
    return 200, {
        "_total_items": len(everyone),
        "_page": page,
        "_page_count": pages,
        "_links": links,
        "_embedded": {"users": [shapes.user(request.base, u, with_) for u in chunk]},
    }


def user(request: Request, user_id: int) -> Answer:
    _require_admin(request)
    found = request.account.user(user_id)
    if found is None:
        raise ApiError(404, f"User {user_id} not found")
    return 200, shapes.user(request.base, found, request.with_())


def pipelines(request: Request) -> Answer:
    rows = [
        shapes.pipeline(request.base, request.account_id, cat, name, sort)
        for cat, name, sort in reference.CATEGORIES
    ]
    return 200, {
        "_total_items": len(rows),
        "_links": {"self": {"href": f"{request.base}/api/v4/leads/pipelines"}},
        "_embedded": {"pipelines": rows},
    }


def pipeline(request: Request, pipeline_id: int) -> Answer:
    for cat, name, sort in reference.CATEGORIES:
        if ids.pipeline_id(cat) == pipeline_id:
            return 200, shapes.pipeline(request.base, request.account_id, cat, name, sort)
    raise ApiError(404, "Pipeline not found")


def loss_reasons(request: Request) -> Answer:
    rows = [
        shapes.loss_reason(request.base, ids.LOSS_REASON_BASE + 1 + i)
        for i in range(len(ids.LOSS_REASONS))
    ]
    return 200, {
        "_total_items": len(rows),
        "_links": {"self": {"href": f"{request.base}/api/v4/leads/loss_reasons"}},
        "_embedded": {"loss_reasons": rows},
    }


def sources(request: Request) -> Answer:
    rows = [
        source | {"_links": shapes.link(request.base, f"sources/{source['id']}")}
        for source in ids.sources()
    ]
    return 200, {
        "_total_items": len(rows),
        "_links": {"self": {"href": f"{request.base}/api/v4/sources"}},
        "_embedded": {"sources": rows},
    }


# --- leads -----------------------------------------------------------------------------------
def _lead_where(request: Request) -> tuple[list[str], list[Any]]:
    with_ = request.with_()
    where = ["is_deleted = ?"]
    args: list[Any] = [1 if "only_deleted" in with_ else 0]
    scope, scope_args = request.account.lead_scope(request.user_id)
    where.append(scope)
    args += scope_args
    filters = request.filters()
    if "id" in filters:
        _in("id", _ints(filters["id"]), where, args)
    for column in ("updated_at", "created_at", "closed_at", "price"):
        if column in filters:
            _range(column, filters[column], where, args, after=False)
    for name in ("responsible_user_id", "pipeline_id", "created_by"):
        if name in filters:
            _in(name, _ints(filters[name]), where, args)
    if "statuses" in filters:
        pairs = filters["statuses"]
        pairs = list(pairs.values()) if isinstance(pairs, dict) else pairs
        clauses = []
        for pair in pairs if isinstance(pairs, list) else []:
            if not isinstance(pair, dict) or "status_id" not in pair:
                raise ApiError(400, "Request validation failed")
            clauses.append("(pipeline_id = ? AND status_id = ?)")
            args += [_ints(pair.get("pipeline_id", 0))[0], _ints(pair["status_id"])[0]]
        where.append(f"({' OR '.join(clauses)})" if clauses else "0")
    return where, args


def leads(request: Request) -> Answer:
    where, args = _lead_where(request)
    with_ = request.with_()
    return _page(
        request,
        table="amo_leads",
        columns=shapes.LEAD_COLUMNS,
        where=where,
        args=args,
        order=_order(request, ("created_at", "updated_at", "id"), "id ASC"),
        key="leads",
        render=lambda row: shapes.lead(request.base, request.account_id, row, with_),
    )


def lead(request: Request, lead_id: int) -> Answer:
    row = request.account.lead_row(lead_id)
    scope, scope_args = request.account.lead_scope(request.user_id)
    visible = request.account.store.scalar(
        f"SELECT COUNT(*) FROM amo_leads WHERE id = ? AND {scope}",  # noqa: S608
        [lead_id, *scope_args],
    )
    if row is None or row["is_deleted"] or not visible:
        return 204, None
    return 200, shapes.lead(request.base, request.account_id, row, request.with_())


def _batch_items(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
        raise ApiError(400, "Request validation failed")
    if len(body) > 250:
        raise ApiError(422, "Limit 250 per page")
    return body


def patch_leads(request: Request) -> Answer:
    updated = request.account.update_leads(_batch_items(request.body), request.user_id)
    items = [
        {**item, "request_id": str(i), "_links": shapes.link(request.base, f"leads/{item['id']}")}
        for i, item in enumerate(updated)
    ]
    return 200, {
        "_links": {"self": {"href": f"{request.base}/api/v4/leads"}},
        "_embedded": {"leads": items},
    }


def patch_lead(request: Request, lead_id: int) -> Answer:
    if not isinstance(request.body, dict):
        raise ApiError(400, "Request validation failed")
    (item,) = request.account.update_leads([{**request.body, "id": lead_id}], request.user_id)
    return 200, {**item, "_links": shapes.link(request.base, f"leads/{lead_id}")}


# --- contacts, companies, tasks, notes ---------------------------------------------------------
def _simple_list(
    request: Request, table: str, columns: list[str], key: str, render: Callable[..., Any]
) -> Answer:
    where: list[str] = []
    args: list[Any] = []
    filters = request.filters()
    if "id" in filters:
        _in("id", _ints(filters["id"]), where, args)
    if "updated_at" in filters:
        _range("updated_at", filters["updated_at"], where, args, after=False)
    if "responsible_user_id" in filters:
        _in("responsible_user_id", _ints(filters["responsible_user_id"]), where, args)
    return _page(
        request,
        table=table,
        columns=columns,
        where=where,
        args=args,
        order=_order(request, ("updated_at", "id"), "id ASC"),
        key=key,
        render=lambda row: render(request.base, request.account_id, row),
    )


def contact(request: Request, contact_id: int) -> Answer:
    status, body = _single(request, "amo_contacts", shapes.CONTACT_COLUMNS, contact_id,
                           shapes.contact)  # fmt: skip
    if body is None:
        return status, body
    with_ = request.with_()
    if "leads" in with_:
        scope, scope_args = request.account.lead_scope(request.user_id)
        rows = request.account.store.query(
            f"SELECT id FROM amo_leads WHERE contact_id = ? AND is_deleted = 0 AND {scope}"  # noqa: S608
            " ORDER BY id",
            [contact_id, *scope_args],
        )
        body["_embedded"]["leads"] = [
            {"id": row[0], "_links": shapes.link(request.base, f"leads/{row[0]}")} for row in rows
        ]
    if "customers" in with_:
        body["_embedded"]["customers"] = []
    if "catalog_elements" in with_:
        body["_embedded"]["catalog_elements"] = []
    return status, body


def contacts(request: Request) -> Answer:
    return _simple_list(request, "amo_contacts", shapes.CONTACT_COLUMNS, "contacts", shapes.contact)


def companies(request: Request) -> Answer:
    return _simple_list(
        request, "amo_companies", shapes.COMPANY_COLUMNS, "companies", shapes.company
    )


def _single(request: Request, table: str, columns: list[str], row_id: int, render: Any) -> Answer:
    rows = request.account.store.query(
        f"SELECT {', '.join(columns)} FROM {table} WHERE id = ?",  # noqa: S608
        [row_id],
    )
    if not rows:
        return 204, None
    return 200, render(request.base, request.account_id, dict(zip(columns, rows[0], strict=True)))


def tasks(request: Request) -> Answer:
    where: list[str] = []
    args: list[Any] = []
    filters = request.filters()
    for name, column in (("id", "id"), ("responsible_user_id", "responsible_user_id"),
                         ("task_type", "task_type_id"), ("entity_id", "entity_id")):  # fmt: skip
        if name in filters:
            _in(column, _ints(filters[name]), where, args)
    if "entity_type" in filters:
        _in("entity_type", _strings(filters["entity_type"]), where, args)
    if "is_completed" in filters:
        _in("is_completed", _ints(filters["is_completed"]), where, args)
    if "updated_at" in filters:
        _range("updated_at", filters["updated_at"], where, args, after=True)
    return _page(
        request,
        table="amo_tasks",
        columns=shapes.TASK_COLUMNS,
        where=where,
        args=args,
        order=_order(request, ("created_at", "complete_till", "id"), "id ASC"),
        key="tasks",
        render=lambda row: shapes.task(request.base, request.account_id, row),
    )


def add_tasks(request: Request) -> Answer:
    items = _batch_items(request.body)
    created = [request.account.add_task(item, request.user_id) for item in items]
    return 200, {
        "_links": {"self": {"href": f"{request.base}/api/v4/tasks"}},
        "_embedded": {
            "tasks": [
                {
                    "id": task_id,
                    "request_id": str(item.get("request_id", i)),
                    "_links": shapes.link(request.base, f"tasks/{task_id}"),
                }
                for i, (task_id, item) in enumerate(zip(created, items, strict=True))
            ]
        },
    }


def patch_task(request: Request, task_id: int) -> Answer:
    body = request.body if isinstance(request.body, dict) else {}
    if body.get("is_completed") is not True:
        raise ApiError(400, "Request validation failed")
    result = body.get("result") or {}
    request.account.complete_task(task_id, result.get("text"), request.user_id)
    row = request.account.task_row(task_id)
    return 200, {"id": task_id, "updated_at": row["updated_at"],
                 "_links": shapes.link(request.base, f"tasks/{task_id}")}  # fmt: skip


def notes(request: Request, lead_id: int | None = None) -> Answer:
    where = ["entity_type = 'leads'"]
    args: list[Any] = []
    filters = request.filters()
    if lead_id is not None:
        where.append("entity_id = ?")
        args.append(lead_id)
    if "entity_id" in filters:
        _in("entity_id", _ints(filters["entity_id"]), where, args)
    if "id" in filters:
        _in("id", _ints(filters["id"]), where, args)
    if "note_type" in filters:
        _in("note_type", _strings(filters["note_type"]), where, args)
    if "updated_at" in filters:
        _range("updated_at", filters["updated_at"], where, args, after=True)
    return _page(
        request,
        table="amo_notes",
        columns=shapes.NOTE_COLUMNS,
        where=where,
        args=args,
        order=_order(request, ("updated_at", "id"), "id ASC"),
        key="notes",
        render=lambda row: shapes.note(request.base, request.account_id, row),
    )


def add_notes(request: Request) -> Answer:
    items = _batch_items(request.body)
    created = [request.account.add_call(item, request.user_id) for item in items]
    return 200, {
        "_links": {"self": {"href": f"{request.base}/api/v4/leads/notes"}},
        "_embedded": {
            "notes": [
                {
                    "id": note_id,
                    "entity_id": item["entity_id"],
                    "request_id": str(item.get("request_id", i)),
                    "_links": shapes.link(
                        request.base, f"leads/{item['entity_id']}/notes/{note_id}"
                    ),
                }
                for i, (note_id, item) in enumerate(zip(created, items, strict=True))
            ]
        },
    }


# --- events ----------------------------------------------------------------------------------
_ENTITY = {"lead": "lead", "leads": "lead", "task": "task", "tasks": "task",
           "contact": "contact", "company": "company"}  # fmt: skip


def _value_filter(side: str, value: Any, where: list[str], args: list[Any]) -> None:
    column = "value_after" if side == "value_after" else "value_before"
    if not isinstance(value, dict):
        raise ApiError(400, "Request validation failed")
    if "leads_statuses" in value:
        pairs = value["leads_statuses"]
        pairs = list(pairs.values()) if isinstance(pairs, dict) else pairs
        clauses = []
        for pair in pairs:
            parts = []
            if "status_id" in pair:
                parts.append(f"json_extract({column}, '$[0].lead_status.id') = ?")
                args.append(_ints(pair["status_id"])[0])
            if "pipeline_id" in pair:
                parts.append(f"json_extract({column}, '$[0].lead_status.pipeline_id') = ?")
                args.append(_ints(pair["pipeline_id"])[0])
            clauses.append("(" + " AND ".join(parts or ["1"]) + ")")
        where.append("(" + " OR ".join(clauses or ["0"]) + ")")
    if "responsible_user_id" in value:
        values = _ints(value["responsible_user_id"])
        where.append(
            f"json_extract({column}, '$[0].responsible_user.id')"
            f" IN ({', '.join('?' for _ in values)})"
        )
        args.extend(values)


def events(request: Request) -> Answer:
    if request.account.unpaid:
        raise ApiError(402, "Payment required")
    where: list[str] = []
    args: list[Any] = []
    filters = request.filters()
    if "id" in filters:
        _in("id", _strings(filters["id"]), where, args)
    if "created_at" in filters:
        _range("created_at", filters["created_at"], where, args, after=True)
    if "created_by" in filters:
        _in("created_by", _ints(filters["created_by"])[:10], where, args)
    if "type" in filters:
        _in("type", _strings(filters["type"]), where, args)
    if "entity" in filters:
        kinds = [_ENTITY.get(k, k) for k in _strings(filters["entity"])]
        _in("entity_type", kinds, where, args)
        if "entity_id" in filters:
            if len(kinds) != 1:
                raise ApiError(400, "Request validation failed")
            _in("entity_id", _ints(filters["entity_id"])[:10], where, args)
    for side in ("value_after", "value_before"):
        if side in filters:
            _value_filter(side, filters[side], where, args)
    scope, scope_args = request.account.lead_scope(request.user_id)
    if scope != "1":
        where.append(
            f"(entity_type != 'lead' OR entity_id IN (SELECT id FROM amo_leads WHERE {scope}))"  # noqa: S608
        )
        args += scope_args
    return _page(
        request,
        table="amo_events",
        columns=shapes.EVENT_COLUMNS,
        where=where,
        args=args,
        order="n ASC",
        key="events",
        render=lambda row: shapes.event(request.base, request.account_id, row),
        max_limit=100,
    )


# --- webhooks --------------------------------------------------------------------------------
def webhooks(request: Request) -> Answer:
    _require_admin(request)
    hub = request.account.hooks
    destination = request.filters().get("destination")
    rows = [h for h in hub.hooks if destination is None or h.destination == destination]
    return 200, {
        "_total_items": len(rows),
        "_embedded": {"webhooks": [h.body(request.account_id) for h in rows]},
    }


def subscribe(request: Request) -> Answer:
    _require_admin(request)
    body = request.body if isinstance(request.body, dict) else {}
    destination = body.get("destination")
    settings = body.get("settings")
    errors = []
    if not isinstance(destination, str) or not re.match(r"^https?://[^\s/]+", destination):
        errors.append(("0", "InvalidUrl", "destination", "This value is not a valid URL."))
    if not isinstance(settings, list) or not settings or not set(settings) <= SETTINGS:
        errors.append(("0", "NotSupportedChoice", "settings",
                       "One or more of the given values is invalid."))  # fmt: skip
    if errors:
        raise validation(errors)
    try:
        hook = request.account.hooks.upsert(
            destination, list(settings), int(body.get("sort") or 1), request.user_id
        )
    except ValueError as error:
        raise ApiError(422, str(error)) from error
    return 201, hook.body(request.account_id)


def unsubscribe(request: Request) -> Answer:
    _require_admin(request)
    body = request.body if isinstance(request.body, dict) else {}
    if not request.account.hooks.remove(str(body.get("destination") or "")):
        raise ApiError(404, "Webhook not found")
    return 204, None


# --- routing ---------------------------------------------------------------------------------
_ROUTES: list[tuple[str, re.Pattern[str], Callable[..., Answer]]] = [
    ("GET", re.compile(r"^account$"), account),
    ("GET", re.compile(r"^users$"), users),
    ("GET", re.compile(r"^users/(\d+)$"), user),
    ("GET", re.compile(r"^leads/pipelines$"), pipelines),
    ("GET", re.compile(r"^leads/pipelines/(\d+)$"), pipeline),
    ("GET", re.compile(r"^leads/loss_reasons$"), loss_reasons),
    ("GET", re.compile(r"^sources$"), sources),
    ("GET", re.compile(r"^leads$"), leads),
    ("PATCH", re.compile(r"^leads$"), patch_leads),
    ("GET", re.compile(r"^leads/notes$"), notes),
    ("POST", re.compile(r"^leads/notes$"), add_notes),
    ("GET", re.compile(r"^leads/(\d+)/notes$"), notes),
    ("GET", re.compile(r"^leads/(\d+)$"), lead),
    ("PATCH", re.compile(r"^leads/(\d+)$"), patch_lead),
    ("GET", re.compile(r"^contacts$"), contacts),
    ("GET", re.compile(r"^contacts/(\d+)$"), contact),
    ("GET", re.compile(r"^companies$"), companies),
    ("GET", re.compile(r"^companies/(\d+)$"),
     lambda r, i: _single(r, "amo_companies", shapes.COMPANY_COLUMNS, i, shapes.company)),
    ("GET", re.compile(r"^tasks$"), tasks),
    ("POST", re.compile(r"^tasks$"), add_tasks),
    ("GET", re.compile(r"^tasks/(\d+)$"),
     lambda r, i: _single(r, "amo_tasks", shapes.TASK_COLUMNS, i, shapes.task)),
    ("PATCH", re.compile(r"^tasks/(\d+)$"), patch_task),
    ("GET", re.compile(r"^events$"), events),
    ("GET", re.compile(r"^webhooks$"), webhooks),
    ("POST", re.compile(r"^webhooks$"), subscribe),
    ("DELETE", re.compile(r"^webhooks$"), unsubscribe),
]  # fmt: skip
_WRITES = frozenset({"PATCH", "POST", "DELETE"})


def dispatch(request: Request) -> Answer:
    """Route an authenticated ``/api/v4/<tail>`` call."""
    tail = request.path.removeprefix("/api/v4/").strip("/")
    known = False
    for verb, pattern, handler in _ROUTES:
        match = pattern.match(tail)
        if not match:
            continue
        known = True
        if verb != request.verb:
            continue
        if request.account.unpaid and request.verb in _WRITES:
            raise ApiError(402, "Payment required")
        return handler(request, *(int(g) for g in match.groups()))
    if known:
        raise ApiError(405, "Method Not Allowed")
    raise ApiError(404, f"Cannot {request.verb} {request.base}{request.path}")
