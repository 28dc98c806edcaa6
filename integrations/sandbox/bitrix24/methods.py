"""REST methods of the sandbox portal.

Each method takes a :class:`Call` and returns the response body without ``time`` (``result``
plus ``total``/``next`` for lists) or raises :class:`~.errors.RestError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..schema import (
    ACTIVITY,
    COMPANY,
    CONTACT,
    DEAL,
    DEAL_HISTORY,
    LEAD,
    LEAD_HISTORY,
    Entity,
    describe_fields,
)
from .errors import RestError, crm_error, system_error
from .portal import LANG, SCOPE, Portal
from .query import (
    PAGE,
    parse_start,
    py_predicate,
    py_sort,
    render_row,
    resolve_select,
    sql_filter,
    sql_order,
)


@dataclass
class Call:
    """One method invocation: the portal, the calling user and the decoded parameters."""

    portal: Portal
    user_id: int
    params: dict[str, Any]

    def arg(self, name: str, default: Any = None) -> Any:
        """Parameter ``name`` looked up case-insensitively (``filter`` == ``FILTER``)."""
        if name in self.params:
            return self.params[name]
        lowered = name.lower()
        for key, value in self.params.items():
            if key.lower() == lowered:
                return value
        return default

    def require_admin(self) -> None:
        """Raise ACCESS_DENIED (403) unless the caller administers the portal."""
        if not self.portal.is_admin(self.user_id):
            raise system_error("ACCESS_DENIED", "Access denied! Administrator rights required")


Method = Callable[[Call], dict[str, Any]]
METHODS: dict[str, Method] = {}


def method(*names: str) -> Callable[[Method], Method]:
    """Register a function under one or more REST method names."""

    def register(func: Method) -> Method:
        for name in names:
            METHODS[name] = func
        return func

    return register


# --- generic CRM list/get/add/update/delete ----------------------------------------------------
def list_rows(call: Call, entity: Entity, *, strict: bool = False) -> dict[str, Any]:
    """Classic list: filter/order/select, 50 rows a page by ``start``; ``-1`` skips counting."""
    store = call.portal.store
    fields = resolve_select(entity, call.arg("select"))
    flt = sql_filter(entity, call.arg("filter") or {}, strict)
    order = sql_order(entity, call.arg("order"), strict)
    start = parse_start(call.arg("start", 0))
    offset = max(start, 0)
    stored = [f for f in fields if entity.kind(f) is not None]
    columns = ", ".join(f'"{f}"' for f in stored)
    rows = store.query(
        f"SELECT {columns} FROM {entity.table} WHERE {flt.where} "  # noqa: S608 - schema names
        f"ORDER BY {order} LIMIT {PAGE} OFFSET {offset}",
        flt.params,
    )
    result = [render_row(entity, dict(zip(stored, row, strict=True)), fields) for row in rows]
    response: dict[str, Any] = {"result": result}
    if start != -1:
        total = int(
            store.scalar(f"SELECT COUNT(*) FROM {entity.table} WHERE {flt.where}", flt.params)  # noqa: S608
        )
        if offset + PAGE < total:
            response["next"] = offset + PAGE
        response["total"] = total
    return response


def get_row(call: Call, entity: Entity) -> dict[str, Any]:
    """``crm.<entity>.get``: every field, user fields and multi-fields included."""
    row = call.portal._require(entity, call.arg("id"))
    fields = [
        "ID",
        *[f for f in entity.fields if f != "ID"],
        *entity.user_fields,
        *entity.multi_fields,
    ]
    return {"result": render_row(entity, row, fields)}


def _fields_arg(call: Call) -> dict[str, Any]:
    fields = call.arg("fields")
    if not isinstance(fields, dict):
        raise crm_error("Parameter 'fields' must be array.")
    return {str(k).upper(): v for k, v in fields.items()}


def _crm_methods(entity: Entity, prefix: str, add: str, update: str, delete: str) -> None:
    portal_add = getattr(Portal, add)
    portal_update = getattr(Portal, update)
    portal_delete = getattr(Portal, delete)

    def do_list(call: Call) -> dict[str, Any]:
        return list_rows(call, entity)

    def do_get(call: Call) -> dict[str, Any]:
        return get_row(call, entity)

    def do_fields(call: Call) -> dict[str, Any]:
        return {"result": describe_fields(entity)}

    def do_add(call: Call) -> dict[str, Any]:
        return {"result": portal_add(call.portal, _fields_arg(call), call.user_id)}

    def do_update(call: Call) -> dict[str, Any]:
        portal_update(call.portal, call.arg("id"), _fields_arg(call), call.user_id)
        return {"result": True}

    def do_delete(call: Call) -> dict[str, Any]:
        portal_delete(call.portal, call.arg("id"), call.user_id)
        return {"result": True}

    for suffix, func in (
        ("list", do_list),
        ("get", do_get),
        ("fields", do_fields),
        ("add", do_add),
        ("update", do_update),
        ("delete", do_delete),
    ):
        METHODS[f"{prefix}.{suffix}"] = func


_crm_methods(DEAL, "crm.deal", "deal_add", "deal_update", "deal_delete")
_crm_methods(LEAD, "crm.lead", "lead_add", "lead_update", "lead_delete")
_crm_methods(ACTIVITY, "crm.activity", "activity_add", "activity_update", "activity_delete")


@method("crm.company.list")
def company_list(call: Call) -> dict[str, Any]:
    """Companies (read-only in the sandbox)."""
    return list_rows(call, COMPANY)


@method("crm.company.get")
def company_get(call: Call) -> dict[str, Any]:
    """One company."""
    return get_row(call, COMPANY)


@method("crm.contact.list")
def contact_list(call: Call) -> dict[str, Any]:
    """Contacts (read-only in the sandbox)."""
    return list_rows(call, CONTACT)


@method("crm.contact.get")
def contact_get(call: Call) -> dict[str, Any]:
    """One contact."""
    return get_row(call, CONTACT)


@method("crm.stagehistory.list")
def stagehistory_list(call: Call) -> dict[str, Any]:
    """Stage history of leads (entityTypeId 1) or deals (2); result nested in ``items``."""
    raw = call.arg("entityTypeId")
    entity = {"1": LEAD_HISTORY, "2": DEAL_HISTORY}.get(str(raw).strip())
    if entity is None:
        raise RestError("ENTITY_TYPE_NOT_SUPPORTED", f"Entity type `{raw}` is not supported", 400)
    response = list_rows(call, entity, strict=True)
    response["result"] = {"items": response["result"]}
    return response


@method("crm.category.list")
def category_list(call: Call) -> dict[str, Any]:
    """Deal pipelines (``result.categories``, camelCase, ints)."""
    raw = str(call.arg("entityTypeId", "")).strip()
    if raw != "2":
        raise RestError("NOT_FOUND", "Smart process not found", 400)
    categories = sorted(call.portal.categories, key=lambda c: (c["sort"], c["id"]))
    return {"result": {"categories": categories}, "total": len(categories)}


@method("crm.status.list")
def status_list(call: Call) -> dict[str, Any]:
    """Deal stages, lead statuses and sources (filter by ENTITY_ID, ordered by SORT)."""
    flt = call.arg("filter") or {}
    rows = [
        r for r in call.portal.statuses if py_predicate(flt if isinstance(flt, dict) else {})(r)
    ]
    order = call.arg("order")
    if isinstance(order, dict) and order:
        field, direction = next(iter(order.items()))
        rows = py_sort(rows, str(field).upper(), str(direction).upper() == "DESC")
    return _page(call, rows)


def _page(call: Call, rows: list[dict[str, Any]]) -> dict[str, Any]:
    start = parse_start(call.arg("start", 0))
    offset = max(start, 0)
    response: dict[str, Any] = {"result": rows[offset : offset + PAGE]}
    if start != -1:
        if offset + PAGE < len(rows):
            response["next"] = offset + PAGE
        response["total"] = len(rows)
    return response


# --- users and departments ---------------------------------------------------------------------
_USER_PARAMS = {"sort", "order", "start", "filter", "admin_mode", "auth", "select"}


@method("user.get")
def user_get(call: Call) -> dict[str, Any]:
    """Employees; ``filter``/``FILTER`` or top-level fields, ``SORT``/``ORDER``, 50 per page."""
    flt: dict[str, Any] = {}
    raw = call.arg("filter")
    if isinstance(raw, dict):
        flt.update(raw)
    flt.update({k: v for k, v in call.params.items() if k.lower() not in _USER_PARAMS})
    rows = [u for u in call.portal.users if py_predicate(flt)(u)]
    sort = str(call.arg("sort") or "ID").upper()
    rows = py_sort(rows, sort, str(call.arg("order") or "ASC").upper() == "DESC")
    return _page(call, rows)


@method("user.current")
def user_current(call: Call) -> dict[str, Any]:
    """The calling user."""
    return {"result": call.portal.user(call.user_id)}


@method("user.admin")
def user_admin(call: Call) -> dict[str, Any]:
    """Whether the calling user is a portal administrator."""
    return {"result": call.portal.is_admin(call.user_id)}


@method("department.get")
def department_get(call: Call) -> dict[str, Any]:
    """Departments; filter fields are top-level parameters (``ID``, ``PARENT``, ``>ID`` ...)."""
    flt = {k: v for k, v in call.params.items() if k.lower() not in _USER_PARAMS}
    rows = [d for d in call.portal.departments if py_predicate(flt)(d)]
    sort = str(call.arg("sort") or "SORT").upper()
    rows = py_sort(
        py_sort(rows, "ID", False), sort, str(call.arg("order") or "ASC").upper() == "DESC"
    )
    return _page(call, rows)


@method("profile")
def profile(call: Call) -> dict[str, Any]:
    """Basic profile of the calling user."""
    user = call.portal.user(call.user_id) or {}
    return {
        "result": {
            "ID": user.get("ID"),
            "ADMIN": call.portal.is_admin(call.user_id),
            "NAME": user.get("NAME"),
            "LAST_NAME": user.get("LAST_NAME"),
            "PERSONAL_GENDER": user.get("PERSONAL_GENDER", ""),
            "TIME_ZONE": "Europe/Moscow",
            "TIME_ZONE_OFFSET": 10800,
        }
    }


# --- app, events, placements, notifications ----------------------------------------------------
@method("app.info")
def app_info(call: Call) -> dict[str, Any]:
    """Portal-side ``app.info`` (b24restdocs ``api-reference/common/system/app-info.md``)."""
    app = call.portal.app
    return {
        "result": {
            "ID": 7,
            "CODE": call.portal.config.client_id,
            "VERSION": app.version,
            "STATUS": app.status,
            "INSTALLED": call.portal.events.install_finished,
            "PAYMENT_EXPIRED": app.expired(call.portal.clock()),
            "DAYS": app.days(call.portal.clock()),
            "LANGUAGE_ID": LANG,
            "LICENSE": app.license,
            "LICENSE_TYPE": app.license_type,
            "LICENSE_FAMILY": app.license_family,
        }
    }


@method("scope")
def scope(call: Call) -> dict[str, Any]:
    """Scopes granted to the app."""
    return {"result": SCOPE.split(",")}


@method("event.bind")
def event_bind(call: Call) -> dict[str, Any]:
    """Bind a handler. Non-admins may bind only online handlers for themselves (event-bind.md)."""
    event = str(call.arg("event") or "")
    handler = str(call.arg("handler") or "")
    offline = str(call.arg("event_type") or "online").lower() == "offline"
    try:
        auth_type = int(str(call.arg("auth_type") or 0))
    except ValueError:
        auth_type = 0
    if not call.portal.is_admin(call.user_id) and (offline or auth_type not in (0, call.user_id)):
        call.require_admin()
    if not offline and not handler:
        raise RestError("ERROR_ARGUMENT", "Argument 'handler' is null or empty", 400)
    call.portal.events.bind(event, handler, auth_type, call.user_id, offline)
    return {"result": True}


@method("event.get")
def event_get(call: Call) -> dict[str, Any]:
    """Handlers bound by this app."""
    return {
        "result": [
            {
                "event": h.event,
                "handler": h.handler,
                "auth_type": str(h.auth_type),
                "offline": 1 if h.offline else 0,
            }
            for h in call.portal.events.handlers
        ]
    }


@method("event.unbind")
def event_unbind(call: Call) -> dict[str, Any]:
    """Unbind handlers; result ``{"count": n}``."""
    auth_type = call.arg("auth_type")
    count = call.portal.events.unbind(
        str(call.arg("event") or ""),
        call.arg("handler"),
        int(str(auth_type)) if auth_type not in (None, "") else None,
    )
    return {"result": {"count": count}}


@method("event.offline.get")
def event_offline_get(call: Call) -> dict[str, Any]:
    """Offline events queued for ``event_type=offline`` handlers (admin only)."""
    call.require_admin()
    clear = str(call.arg("clear", 1)) not in ("0", "false", "N")
    limit = parse_start(call.arg("limit", PAGE)) or PAGE
    events = call.portal.events.take_offline(limit, clear)
    return {"result": {"process_id": None, "events": events}}


@method("placement.bind")
def placement_bind(call: Call) -> dict[str, Any]:
    """Bind a placement handler (admin only)."""
    call.require_admin()
    placement = str(call.arg("PLACEMENT") or "").upper()
    handler = str(call.arg("HANDLER") or "")
    if not placement or not handler:
        raise RestError("ERROR_ARGUMENT", "Argument 'PLACEMENT' or 'HANDLER' is empty", 400)
    for existing in call.portal.placements:
        if existing["placement"] == placement and existing["handler"] == handler:
            raise RestError("ERROR_PLACEMENT_HANDLER_ALREADY_BINDED", "Handler already binded", 400)
    call.portal.placements.append(
        {
            "placement": placement,
            "handler": handler,
            "title": call.arg("TITLE") or "",
            "description": call.arg("DESCRIPTION") or "",
            "options": [],
        }
    )
    return {"result": True}


@method("placement.get")
def placement_get(call: Call) -> dict[str, Any]:
    """Placements bound by this app (admin only)."""
    call.require_admin()
    return {"result": list(call.portal.placements)}


@method("placement.unbind")
def placement_unbind(call: Call) -> dict[str, Any]:
    """Unbind placements (admin only); result ``{"count": n}``."""
    call.require_admin()
    placement = str(call.arg("PLACEMENT") or "").upper()
    handler = call.arg("HANDLER")
    before = len(call.portal.placements)
    call.portal.placements = [
        p
        for p in call.portal.placements
        if not (p["placement"] == placement and (handler is None or p["handler"] == handler))
    ]
    return {"result": {"count": before - len(call.portal.placements)}}


@method("im.notify.system.add", "im.notify")
def notify_system_add(call: Call) -> dict[str, Any]:
    """Send a system notification to a user; stored so tests can read it."""
    user_id = call.arg("USER_ID") or call.arg("to")
    message = call.arg("MESSAGE") or call.arg("message")
    if not message:
        raise RestError("MESSAGE_EMPTY", "Message can't be empty", 400)
    try:
        target = int(str(user_id))
    except (TypeError, ValueError) as error:
        raise RestError("USER_ID_EMPTY", "Recipient ID can't be empty", 400) from error
    if call.portal.user(target) is None:
        raise RestError("USER_ID_EMPTY", "Recipient ID can't be empty", 400)
    params = {str(k).upper(): v for k, v in call.params.items() if k.lower() != "auth"}
    params["USER_ID"] = target
    params["MESSAGE"] = message
    return {"result": call.portal.notify(call.user_id, params)}


def dispatch(portal: Portal, user_id: int, name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run REST method ``name`` for ``user_id``; unknown names give ERROR_METHOD_NOT_FOUND."""
    func = METHODS.get(name.lower())
    if func is None:
        raise system_error("ERROR_METHOD_NOT_FOUND")
    return func(Call(portal, user_id, params))
