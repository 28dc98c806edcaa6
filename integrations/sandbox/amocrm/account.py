"""One sandbox amoCRM account: its rendered data, tokens, limits and the services that change data.

Every write — from API v4 or the control API — goes through :class:`Account` services, which
record the events amoCRM would (``lead_status_changed``, ``entity_responsible_changed``,
``sale_field_changed``, ``lead_added/deleted/restored``, ``task_added/completed``, call events)
and send the matching webhooks, so ``/api/v4/events`` and hooks always agree with the data.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import jwt

from .. import reference
from ..oauth import TokenStore
from ..ratelimit import LeakyBucket
from ..store import Store
from ..timeutil import PORTAL_TZ
from . import identity as ids
from . import shapes
from .errors import ApiError, validation
from .webhooks import HookHub

ACCESS_LIFETIME = 86400
REFRESH_LIFETIME = 90 * 86400
CODE_LIFETIME = 20 * 60
RATE_LIMIT = (7.0, 7.0)
#: 429s within this many seconds that block the account (every request 403 until reset).
BLOCK_AFTER = (20, 60.0)
NOTE_TYPES = {"call_in": 10, "call_out": 11}


def local(ts: int | None) -> str:
    """ "Y-m-d H:i:s" in the account's time zone, as task and note hooks carry dates."""
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, PORTAL_TZ).strftime("%Y-%m-%d %H:%M:%S")


class Account:
    """State and services of one sandbox amoCRM account."""

    def __init__(
        self,
        store: Store,
        identity: ids.AccountIdentity,
        *,
        base_url: str,
        redirect_uri: str,
        access_lifetime: int = ACCESS_LIFETIME,
        rate_limit: tuple[float, float] = RATE_LIMIT,
    ) -> None:
        self.store = store
        self.identity = identity
        self.base_url = base_url
        self.redirect_uri = redirect_uri
        self.rate_limit = rate_limit
        self.access_lifetime = access_lifetime
        self.offset = 0.0
        self.lock = threading.RLock()
        self._signing_key = secrets.token_hex(32)
        self.tokens = TokenStore(
            self.clock,
            access_lifetime,
            refresh_lifetime=REFRESH_LIFETIME,
            code_lifetime=CODE_LIFETIME,
            access_token=self._access_jwt,
        )
        self.bucket = LeakyBucket(*rate_limit)
        self.hooks = HookHub(self.clock, self.hook_account)
        self.overruns: list[float] = []
        self.block_after = BLOCK_AFTER
        # amoCRM.ru answers some 429s with a non-JSON body; the control API switches to that.
        self.plain_429 = False
        self.blocked = False
        self.unpaid = False
        self.installed = True
        self.uninstall_hook: str | None = None
        self.uninstall_log: list[dict[str, Any]] = []
        self.users = store.reference("amo_users")

    # --- identity -------------------------------------------------------------------------------
    def clock(self) -> float:
        """Account time: wall clock plus the control API's offset."""
        return time.time() + self.offset

    def now(self) -> int:
        """Account time in whole unix seconds (amoCRM's)."""
        return int(self.clock())

    def _access_jwt(self, user_id: int, issued: float, expires: float) -> str:
        """An access token as amoCRM writes it: a JWT whose `api_domain` names the host that
        answers ``/oauth2/account/current/subdomain`` (AMOCRM.md §6). amoCRM signs with its
        own key, which no integration can check; this fake signs with one of its own."""
        claims = {
            "aud": self.identity.client_id,
            "jti": uuid.uuid4().hex,
            "iat": int(issued),
            "nbf": int(issued),
            "exp": int(expires),
            "sub": str(user_id),
            "account_id": self.identity.account_id,
            "base_domain": "amocrm.ru",
            "api_domain": urlsplit(self.base_url).netloc,
            "version": 2,
            "scopes": ["crm", "notifications"],
        }
        return jwt.encode(claims, self._signing_key, algorithm="HS256")

    def subdomain_info(self) -> dict[str, Any]:
        """``GET /oauth2/account/current/subdomain``: where the account lives now."""
        subdomain = self.identity.subdomain
        return {
            "id": self.identity.account_id,
            "subdomain": subdomain,
            "domain": f"{subdomain}.amocrm.ru",
            "top_level_domain": "ru",
        }

    def hook_account(self) -> dict[str, str]:
        """``account[...]`` of every hook."""
        return {
            "subdomain": self.identity.subdomain,
            "id": str(self.identity.account_id),
            "_links": {"self": self.base_url},
        }

    def user(self, user_id: int) -> dict[str, Any] | None:
        """User row by amoCRM id."""
        return next((u for u in self.users if u["id"] == user_id), None)

    def group_of(self, user_id: int) -> int:
        """The user's group (0, the default group, for none or an unknown user)."""
        found = self.user(user_id)
        return (found["rights"]["group_id"] or 0) if found else 0

    def is_admin(self, user_id: int) -> bool:
        """Whether the user administers the account."""
        found = self.user(user_id)
        return bool(found and found["rights"]["is_admin"])

    def lead_scope(self, user_id: int) -> tuple[str, list[Any]]:
        """SQL condition on ``amo_leads`` for the leads ``user_id`` may view (rights A/G/M)."""
        found = self.user(user_id)
        view = found["rights"]["leads"]["view"] if found else "D"
        if view == "A":
            return "1", []
        if view == "G":
            return "group_id = ?", [found["rights"]["group_id"] or 0]
        if view == "M":
            return "responsible_user_id = ?", [user_id]
        return "0", []

    # --- limits ---------------------------------------------------------------------------------
    def admit(self) -> None:
        """Count one API request against 7/s; overrunning repeatedly blocks the account."""
        if self.blocked:
            raise ApiError(403, "blocked")
        if self.bucket.allow():
            return
        now = time.monotonic()
        count, window = self.block_after
        with self.lock:
            self.overruns = [t for t in self.overruns if t > now - window] + [now]
            if len(self.overruns) >= count:
                self.blocked = True
        raise ApiError(429, "You have sent too many requests in a given amount of time.",
                       retry_after=1)  # fmt: skip

    # --- reading --------------------------------------------------------------------------------
    def lead_row(self, lead_id: int) -> dict[str, Any] | None:
        """A stored lead (deleted ones too)."""
        cols = ", ".join(shapes.LEAD_COLUMNS)
        rows = self.store.query(f"SELECT {cols} FROM amo_leads WHERE id = ?", (lead_id,))  # noqa: S608
        return dict(zip(shapes.LEAD_COLUMNS, rows[0], strict=True)) if rows else None

    def lead_hook_fields(self, row: dict[str, Any]) -> dict[str, Any]:
        """A lead as hooks carry it (``amocrm_webhook_leads_update_full.txt``)."""
        return {
            "id": row["id"],
            "name": row["name"],
            "status_id": row["status_id"],
            "price": row["price"],
            "responsible_user_id": row["responsible_user_id"],
            "last_modified": row["updated_at"],
            "modified_user_id": row["updated_by"],
            "created_user_id": row["created_by"],
            "date_create": row["created_at"],
            "pipeline_id": row["pipeline_id"],
            "account_id": self.identity.account_id,
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
        }

    # --- events ---------------------------------------------------------------------------------
    def _event(
        self, kind: str, entity_type: str, entity_id: int, actor: int, before: Any, after: Any
    ) -> None:
        at = self.now()
        with self.store.lock:
            n = int(self.store.scalar("SELECT COALESCE(MAX(n), 0) + 1 FROM amo_events"))
            self.store.conn.execute(
                "INSERT INTO amo_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (n, f"{at:010x}{n:016x}", kind, entity_type, entity_id, actor, at,
                 json.dumps(before), json.dumps(after)),
            )  # fmt: skip

    # --- lead services --------------------------------------------------------------------------
    def _status_valid(self, pipeline_id: int, status_id: int) -> bool:
        category = pipeline_id - ids.PIPELINE_BASE
        if category not in {c for c, _n, _s in reference.CATEGORIES}:
            return False
        return status_id in {s.id for s in ids.statuses(category)}

    def validate_lead_patch(self, index: int, change: dict[str, Any]) -> list[tuple[str, ...]]:
        """Validation errors of one lead change (``request_id`` is its position)."""
        errors: list[tuple[str, ...]] = []
        rid = str(index)
        for name in ("price", "status_id", "pipeline_id", "responsible_user_id", "loss_reason_id"):
            value = change.get(name)
            if name in change and (not isinstance(value, int) or isinstance(value, bool)):
                errors.append((rid, "InvalidType", name, "This value should be of type int."))
        if "name" in change and not isinstance(change["name"], str):
            errors.append((rid, "InvalidType", "name", "This value should be of type string."))
        if errors:
            return errors
        if "price" in change and change["price"] < 0:
            errors.append((rid, "InvalidValue", "price", "This value should be positive."))
        if "responsible_user_id" in change and not self.user(change["responsible_user_id"]):
            errors.append((rid, "NotSupportedChoice", "responsible_user_id",
                           "The value you selected is not a valid choice."))  # fmt: skip
        return errors

    def update_leads(self, changes: list[dict[str, Any]], actor: int) -> list[dict[str, Any]]:
        """Apply lead changes (``PATCH /api/v4/leads``); all validated first, none on error."""
        errors: list[tuple[str, ...]] = []
        rows = []
        for index, change in enumerate(changes):
            errors += self.validate_lead_patch(index, change)
            row = self.lead_row(int(change.get("id") or 0))
            if row is None or row["is_deleted"]:
                errors.append((str(index), "NotFound", "id", "Lead not found"))
                continue
            pipe = change.get("pipeline_id", row["pipeline_id"])
            status = change.get("status_id", row["status_id"])
            if (
                isinstance(pipe, int)
                and isinstance(status, int)
                and not self._status_valid(pipe, status)
            ):
                errors.append((str(index), "NotSupportedChoice", "status_id",
                               "The value you selected is not a valid choice."))  # fmt: skip
            rows.append(row)
        if errors:
            raise validation(errors)
        updated, status_items, responsible_items = [], [], []
        with self.lock:
            for change, row in zip(changes, rows, strict=True):
                before = dict(row)
                self._apply(row, change, actor)
                fields = self.lead_hook_fields(row)
                updated.append(fields)
                if (before["status_id"], before["pipeline_id"]) != (
                    row["status_id"],
                    row["pipeline_id"],
                ):
                    old = {"old_status_id": before["status_id"],
                           "old_pipeline_id": before["pipeline_id"]}  # fmt: skip
                    status_items.append(fields | old)
                if before["responsible_user_id"] != row["responsible_user_id"]:
                    responsible_items.append(
                        fields | {"old_responsible_user_id": before["responsible_user_id"]}
                    )
        self.hooks.emit("update_lead", "leads", "update", updated)
        self.hooks.emit("status_lead", "leads", "status", status_items)
        self.hooks.emit("responsible_lead", "leads", "responsible", responsible_items)
        return [{"id": row["id"], "updated_at": row["updated_at"]} for row in rows]

    def _apply(self, row: dict[str, Any], change: dict[str, Any], actor: int) -> None:
        now = self.now()
        moved = False
        if "pipeline_id" in change or "status_id" in change:
            pipe = change.get("pipeline_id", row["pipeline_id"])
            status = change.get("status_id", row["status_id"])
            if (pipe, status) != (row["pipeline_id"], row["status_id"]):
                self._event("lead_status_changed", "lead", row["id"], actor,
                            [{"lead_status": {"id": row["status_id"],
                                              "pipeline_id": row["pipeline_id"]}}],
                            [{"lead_status": {"id": status, "pipeline_id": pipe}}])  # fmt: skip
                row["pipeline_id"], row["status_id"], moved = pipe, status, True
        if (
            "responsible_user_id" in change
            and change["responsible_user_id"] != row["responsible_user_id"]
        ):
            new = change["responsible_user_id"]
            self._event("entity_responsible_changed", "lead", row["id"], actor,
                        [{"responsible_user": {"id": row["responsible_user_id"]}}],
                        [{"responsible_user": {"id": new}}])  # fmt: skip
            row["responsible_user_id"] = new
            row["group_id"] = self.user(new)["rights"]["group_id"] or 0
        if "price" in change and change["price"] != row["price"]:
            self._event("sale_field_changed", "lead", row["id"], actor,
                        [{"sale_field_value": {"sale": row["price"]}}],
                        [{"sale_field_value": {"sale": change["price"]}}])  # fmt: skip
            row["price"] = change["price"]
        if "name" in change:
            row["name"] = change["name"]
        if "loss_reason_id" in change:
            row["loss_reason_id"] = change["loss_reason_id"]
        if moved:
            closed = row["status_id"] in (ids.WON, ids.LOST)
            row["closed_at"] = now if closed else None
            if row["status_id"] != ids.LOST:
                row["loss_reason_id"] = change.get("loss_reason_id")
        row["updated_at"], row["updated_by"] = now, actor
        names = [c for c in shapes.LEAD_COLUMNS if c != "id"]
        sets = ", ".join(f"{c} = ?" for c in names)
        self.store.execute(
            f"UPDATE amo_leads SET {sets} WHERE id = ?",  # noqa: S608
            [*(row[c] for c in names), row["id"]],
        )

    def add_lead(self, fields: dict[str, Any], actor: int) -> int:
        """Create a lead (default: pipeline 0's incoming stage, the actor responsible)."""
        pipe, status = ids.incoming(0)
        pipe = int(fields.get("pipeline_id", pipe))
        status = int(fields.get("status_id", status))
        responsible = int(fields.get("responsible_user_id", actor))
        if not self._status_valid(pipe, status) or not self.user(responsible):
            raise validation([("0", "NotSupportedChoice", "status_id",
                               "The value you selected is not a valid choice.")])  # fmt: skip
        now = self.now()
        with self.lock, self.store.lock:
            lead_id = int(self.store.scalar("SELECT MAX(id) + 1 FROM amo_leads"))
            row = dict.fromkeys(shapes.LEAD_COLUMNS) | {
                "id": lead_id, "name": str(fields.get("name") or f"Сделка #{lead_id}"),
                "price": int(fields.get("price") or 0), "responsible_user_id": responsible,
                "group_id": self.user(responsible)["rights"]["group_id"] or 0,
                "status_id": status, "pipeline_id": pipe, "created_by": actor, "updated_by": actor,
                "created_at": now, "updated_at": now, "is_deleted": 0,
                "closed_at": now if status in (ids.WON, ids.LOST) else None,
            }  # fmt: skip
            marks = ", ".join("?" for _ in shapes.LEAD_COLUMNS)
            cols = ", ".join(shapes.LEAD_COLUMNS)
            self.store.execute(
                f"INSERT INTO amo_leads ({cols}) VALUES ({marks})",  # noqa: S608
                [row[c] for c in shapes.LEAD_COLUMNS],
            )
            note = lead_id - ids.LEAD_BASE + ids.NOTE_BASE + 9_000_000
            self._event("lead_added", "lead", lead_id, actor, [], [{"note": {"id": note}}])
        self.hooks.emit("add_lead", "leads", "add", [self.lead_hook_fields(row)])
        return lead_id

    def delete_lead(self, lead_id: int, actor: int) -> None:
        """Move a lead to the trash (``with=only_deleted`` lists it; events keep it)."""
        row = self.lead_row(lead_id)
        if row is None or row["is_deleted"]:
            raise ApiError(404, "Lead not found")
        now = self.now()
        self.store.execute(
            "UPDATE amo_leads SET is_deleted = 1, updated_at = ?, updated_by = ? WHERE id = ?",
            [now, actor, lead_id],
        )
        self._event("lead_deleted", "lead", lead_id, actor, [], [])
        self.hooks.emit("delete_lead", "leads", "delete",
                        [{"id": lead_id, "status_id": row["status_id"],
                          "pipeline_id": row["pipeline_id"]}])  # fmt: skip

    def restore_lead(self, lead_id: int, actor: int) -> None:
        """Bring a lead back from the trash."""
        row = self.lead_row(lead_id)
        if row is None or not row["is_deleted"]:
            raise ApiError(404, "Lead not found in the trash")
        now = self.now()
        self.store.execute(
            "UPDATE amo_leads SET is_deleted = 0, updated_at = ?, updated_by = ? WHERE id = ?",
            [now, actor, lead_id],
        )
        self._event("lead_restored", "lead", lead_id, actor, [], [])
        row = self.lead_row(lead_id)
        self.hooks.emit("restore_lead", "leads", "restore", [self.lead_hook_fields(row)])

    # --- tasks and calls ------------------------------------------------------------------------
    def task_hook_fields(self, task: dict[str, Any], closed: bool = False) -> dict[str, Any]:
        """A task as hooks carry it (``amocrm_webhook_task_add_constructed.txt``)."""
        fields = {
            "id": task["id"], "element_id": task["entity_id"], "element_type": 2,
            "task_type": task["task_type_id"], "date_create": local(task["created_at"]),
            "text": task["text"], "status": int(bool(task["is_completed"])),
            "account_id": self.identity.account_id, "created_user_id": task["created_by"],
            "last_modified": local(task["updated_at"]),
            "responsible_user_id": task["responsible_user_id"],
            "complete_till": local(task["complete_till"]),
        }  # fmt: skip
        if closed:
            fields["action_close"] = 1
        if task["result"]:
            fields["result"] = {"id": task["id"], "text": task["result"]}
        return fields

    def task_row(self, task_id: int) -> dict[str, Any] | None:
        """A stored task."""
        cols = ", ".join(shapes.TASK_COLUMNS)
        rows = self.store.query(f"SELECT {cols} FROM amo_tasks WHERE id = ?", (task_id,))  # noqa: S608
        return dict(zip(shapes.TASK_COLUMNS, rows[0], strict=True)) if rows else None

    def add_task(self, fields: dict[str, Any], actor: int) -> int:
        """Create a task on a lead (``POST /api/v4/tasks`` item)."""
        lead = self.lead_row(int(fields.get("entity_id") or 0))
        if lead is None or fields.get("entity_type", "leads") != "leads":
            raise validation([("0", "NotFound", "entity_id", "Entity not found")])
        if not fields.get("text") or not isinstance(fields.get("complete_till"), int):
            raise validation([("0", "NotBlank", "text", "This value should not be blank.")])
        responsible = int(fields.get("responsible_user_id") or lead["responsible_user_id"])
        if not self.user(responsible):
            raise validation([("0", "NotSupportedChoice", "responsible_user_id",
                               "The value you selected is not a valid choice.")])  # fmt: skip
        now = self.now()
        with self.lock, self.store.lock:
            task_id = int(
                self.store.scalar(f"SELECT COALESCE(MAX(id), {ids.TASK_BASE}) + 1 FROM amo_tasks")  # noqa: S608
            )
            task = {
                "id": task_id, "entity_id": lead["id"], "entity_type": "leads",
                "task_type_id": int(fields.get("task_type_id") or 1), "text": str(fields["text"]),
                "result": None, "is_completed": 0, "complete_till": fields["complete_till"],
                "duration": int(fields.get("duration") or 0), "responsible_user_id": responsible,
                "group_id": self.user(responsible)["rights"]["group_id"] or 0,
                "created_by": actor, "updated_by": actor, "created_at": now, "updated_at": now,
                "completed_at": None,
            }  # fmt: skip
            self._insert("amo_tasks", shapes.TASK_COLUMNS, task)
            self._event("task_added", "task", task_id, actor, [], [])
        self.hooks.emit("add_task", "task", "add", [self.task_hook_fields(task)])
        return task_id

    def complete_task(self, task_id: int, result: str | None, actor: int) -> None:
        """Close a task (``PATCH /api/v4/tasks/{id}`` with ``is_completed``)."""
        task = self.task_row(task_id)
        if task is None:
            raise ApiError(404, "Task not found")
        if task["is_completed"]:
            return
        now = self.now()
        task |= {"is_completed": 1, "result": result, "updated_at": now, "updated_by": actor,
                 "completed_at": now}  # fmt: skip
        self.store.execute(
            "UPDATE amo_tasks SET is_completed = 1, result = ?, updated_at = ?, updated_by = ?,"
            " completed_at = ? WHERE id = ?",
            [result, now, actor, now, task_id],
        )
        self._event("task_completed", "task", task_id, actor, [], [])
        self.hooks.emit("update_task", "task", "update", [self.task_hook_fields(task, closed=True)])

    def add_call(self, fields: dict[str, Any], actor: int) -> int:
        """A call note on a lead (``POST /api/v4/leads/notes`` with call_in/call_out)."""
        lead = self.lead_row(int(fields.get("entity_id") or 0))
        kind = fields.get("note_type")
        if lead is None or kind not in NOTE_TYPES:
            raise validation([("0", "NotSupportedChoice", "note_type",
                               "The value you selected is not a valid choice.")])  # fmt: skip
        params = dict(fields.get("params") or {})
        now = self.now()
        with self.lock, self.store.lock:
            note_id = int(
                self.store.scalar(f"SELECT COALESCE(MAX(id), {ids.NOTE_BASE}) + 1 FROM amo_notes")  # noqa: S608
            )
            note = {
                "id": note_id, "entity_id": lead["id"], "entity_type": "leads", "note_type": kind,
                "params": json.dumps(params, ensure_ascii=False),
                "responsible_user_id": int(fields.get("responsible_user_id") or actor),
                "group_id": self.group_of(actor),
                "created_by": actor, "updated_by": actor, "created_at": now, "updated_at": now,
            }  # fmt: skip
            self._insert("amo_notes", shapes.NOTE_COLUMNS, note)
            event = "incoming_call" if kind == "call_in" else "outgoing_call"
            self._event(event, "lead", lead["id"], actor, [], [{"note": {"id": note_id}}])
        text = json.dumps({"UNIQ": params.get("uniq", ""), "LINK": params.get("link", ""),
                           "PHONE": params.get("phone", ""), "DURATION": params.get("duration", 0),
                           "SRC": params.get("source", "")})  # fmt: skip
        hook = {"note": {
            "id": note_id, "note_type": NOTE_TYPES[kind], "text": text, "element_id": lead["id"],
            "element_type": 2, "account_id": self.identity.account_id,
            "date_create": local(now), "timestamp_x": local(now), "created_by": actor,
            "modified_by": actor, "main_user_id": note["responsible_user_id"],
            "group_id": note["group_id"], "created_at": now, "updated_at": now,
        }}  # fmt: skip
        self.hooks.emit("note_lead", "leads", "note", [hook])
        return note_id

    def _insert(self, table: str, columns: list[str], row: dict[str, Any]) -> None:
        marks = ", ".join("?" for _ in columns)
        self.store.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",  # noqa: S608
            [row[c] for c in columns],
        )
