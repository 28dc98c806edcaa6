"""One sandbox portal: its data, its app installation state and the services that change data.

Writes go through ``deal_*``, ``lead_*`` and ``activity_*`` services used by both the REST
methods and the control API, so stage history, DATE_MODIFY and outbound events stay consistent
whichever way a change is made.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from .. import reference
from ..oauth import TokenRejected, TokenStore
from ..ratelimit import LeakyBucket
from ..schema import ACTIVITY, DEAL, DEAL_HISTORY, DT, INT, LEAD, LEAD_HISTORY, MONEY, Entity
from ..store import Store
from ..timeutil import format_date, format_ts, normalize_datetime
from .errors import crm_error, system_error
from .events import EventHub

SCOPE = "crm,department,im,placement,user_brief"
LANG = "ru"


@dataclass
class AppState:
    """What ``app.info`` reports, settable through the control API.

    DAYS counts down with the portal clock to the end of the paid (or trial) period, and
    PAYMENT_EXPIRED turns to Y when it is reached, as on a real portal.
    """

    status: str = "F"
    payment_expired: str = "N"
    # End of the paid period on the portal clock (seconds); None = app.info gives no DAYS.
    paid_until: float | None = None
    installed: bool = True
    version: int = 1
    license: str = "ru_project"
    license_type: str = "project"
    license_family: str = "project"

    def days(self, now: float) -> int | None:
        """app.info ``DAYS``: whole days left, rounded up."""
        if self.paid_until is None:
            return None
        return max(0, math.ceil((self.paid_until - now) / 86400))

    def expired(self, now: float) -> str:
        """app.info ``PAYMENT_EXPIRED``."""
        ended = self.paid_until is not None and now >= self.paid_until
        return "Y" if self.payment_expired == "Y" or ended else "N"

    def info(self, now: float) -> dict[str, Any]:
        """The control API's view: the settable fields with DAYS and PAYMENT_EXPIRED as now."""
        return vars(self) | {"days": self.days(now), "payment_expired": self.expired(now)}


@dataclass
class PortalConfig:
    """Identity of the portal and of the app installed in it."""

    seed: int
    scale: str
    now: float
    domain: str
    client_id: str
    client_secret: str
    access_lifetime: int = 3600
    rate_limit: tuple[float, float] = (50.0, 2.0)
    member_id: str = ""

    @property
    def base_url(self) -> str:
        """``https://DOMAIN`` (the portal and OAuth server share it)."""
        return f"https://{self.domain}"


def credentials_for_seed(seed: int) -> tuple[str, str, str]:
    """Deterministic ``(client_id, client_secret, member_id)`` for a seed."""
    digest = hashlib.sha256(f"sandbox-bitrix24-{seed}".encode()).hexdigest()
    client_id = f"app.{digest[:14]}.{int(digest[14:22], 16) % 10**8:08d}"
    return client_id, digest[22:62], hashlib.md5(digest.encode()).hexdigest()  # noqa: S324


_WRITABLE_DEAL = frozenset(
    "TITLE TYPE_ID STAGE_ID PROBABILITY CURRENCY_ID OPPORTUNITY IS_MANUAL_OPPORTUNITY TAX_VALUE "
    "LEAD_ID COMPANY_ID CONTACT_ID QUOTE_ID BEGINDATE CLOSEDATE ASSIGNED_BY_ID OPENED COMMENTS "
    "ADDITIONAL_INFO SOURCE_ID SOURCE_DESCRIPTION ORIGINATOR_ID ORIGIN_ID UTM_SOURCE UTM_MEDIUM "
    "UTM_CAMPAIGN UTM_CONTENT UTM_TERM".split()
) | set(DEAL.user_fields)
_WRITABLE_LEAD = frozenset(
    "TITLE HONORIFIC NAME SECOND_NAME LAST_NAME COMPANY_TITLE COMPANY_ID CONTACT_ID SOURCE_ID "
    "SOURCE_DESCRIPTION STATUS_ID STATUS_DESCRIPTION POST COMMENTS CURRENCY_ID OPPORTUNITY "
    "ASSIGNED_BY_ID OPENED UTM_SOURCE UTM_MEDIUM UTM_CAMPAIGN UTM_CONTENT UTM_TERM PHONE "
    "EMAIL".split()
)
_WRITABLE_ACTIVITY = frozenset(
    "OWNER_ID OWNER_TYPE_ID TYPE_ID PROVIDER_ID PROVIDER_TYPE_ID SUBJECT START_TIME END_TIME "
    "DEADLINE COMPLETED STATUS RESPONSIBLE_ID PRIORITY DESCRIPTION DIRECTION LOCATION".split()
)


def _store_value(entity: Entity, name: str, value: Any) -> Any:
    """Convert an API field value into its stored form."""
    if value is None or value == "":
        return None
    if name in entity.multi_fields and isinstance(value, list):
        first = value[0] if value else {}
        return first.get("VALUE") if isinstance(first, dict) else str(first)
    kind = entity.kind(name)
    if kind == INT:
        try:
            return int(str(value))
        except ValueError as error:
            raise crm_error(f"Field '{name}' has invalid value") from error
    if kind == MONEY:
        try:
            return float(str(value))
        except ValueError as error:
            raise crm_error(f"Field '{name}' has invalid value") from error
    if kind == DT:
        normalized = normalize_datetime(str(value))
        if normalized is None:
            raise crm_error(f"Field '{name}' has invalid value")
        return normalized
    return str(value)


class Portal:
    """State and services of one sandbox portal."""

    def __init__(self, store: Store, config: PortalConfig) -> None:
        self.store = store
        self.config = config
        self.offset = 0.0
        self.tokens = TokenStore(self.clock, config.access_lifetime)
        self.events = EventHub(self.clock)
        self.bucket = LeakyBucket(*config.rate_limit)
        self.app = AppState()
        self.application_token = secrets.token_hex(16)
        self.app_sid = secrets.token_hex(16)
        self.notifications: list[dict[str, Any]] = []
        self.placements: list[dict[str, Any]] = []
        self.faults: dict[str, list[str]] = {}
        self.lock = threading.RLock()
        self._notify_ids = itertools.count(1)
        self.stages = reference.stage_index()
        self.lead_statuses = reference.lead_status_index()
        self.install_tokens: dict[str, Any] = {}
        self.reload_reference()

    # --- identity -------------------------------------------------------------------------------
    def clock(self) -> float:
        """Portal time: wall clock plus the control API's time offset."""
        return time.time() + self.offset

    def reload_reference(self) -> None:
        """(Re)load users, departments, statuses and categories from the store."""
        self.users = self.store.reference("users")
        self.departments = self.store.reference("departments")
        self.statuses = self.store.reference("statuses")
        self.categories = self.store.reference("categories")

    @property
    def client_endpoint(self) -> str:
        """``https://DOMAIN/rest/``."""
        return f"{self.config.base_url}/rest/"

    @property
    def server_endpoint(self) -> str:
        """The OAuth server's REST endpoint (``https://oauth.bitrix.info/rest/`` in reality)."""
        return f"{self.config.base_url}/rest/"

    def user(self, user_id: int) -> dict[str, Any] | None:
        """User row by id."""
        return next((u for u in self.users if int(u["ID"]) == user_id), None)

    def authenticate(self, access_token: str) -> int:
        """User id of a valid access token, else ``expired_token`` / ``invalid_token`` (401)."""
        try:
            return self.tokens.authenticate(access_token)
        except TokenRejected as error:
            raise system_error(error.reason) from error

    def is_admin(self, user_id: int) -> bool:
        """Whether ``user_id`` administers the portal."""
        return user_id in reference.ADMIN_IDS

    # --- OAuth payloads -------------------------------------------------------------------------
    def token_response(self, pair: dict[str, Any]) -> dict[str, Any]:
        """OAuth server answer for a token pair (fixture bitrix24_oauth_refresh_response.json)."""
        return {
            "access_token": pair["access_token"],
            "client_endpoint": self.client_endpoint,
            "domain": "oauth.bitrix.info",
            "expires": pair["expires"],
            "expires_in": pair["expires_in"],
            "member_id": self.config.member_id,
            "refresh_token": pair["refresh_token"],
            "scope": SCOPE,
            "server_endpoint": self.server_endpoint,
            "status": self.app.status,
            "user_id": pair["user_id"],
        }

    def event_auth(self, user_id: int | None, automation: bool) -> list[tuple[str, str]]:
        """``auth[...]`` pairs of an outbound CRM event (real capture ``ONCRMCONTACTADD``)."""
        if automation or user_id is None:
            return [
                ("auth[domain]", self.config.domain),
                ("auth[client_endpoint]", self.client_endpoint),
                ("auth[server_endpoint]", self.server_endpoint),
                ("auth[member_id]", self.config.member_id),
                ("auth[application_token]", self.application_token),
            ]
        pair = self.tokens.issue(user_id, with_refresh=False)
        return [
            ("auth[access_token]", pair["access_token"]),
            ("auth[expires]", str(pair["expires"])),
            ("auth[expires_in]", str(pair["expires_in"])),
            ("auth[scope]", SCOPE),
            ("auth[domain]", self.config.domain),
            ("auth[server_endpoint]", self.server_endpoint),
            ("auth[status]", self.app.status),
            ("auth[client_endpoint]", self.client_endpoint),
            ("auth[member_id]", self.config.member_id),
            ("auth[user_id]", str(user_id)),
            ("auth[application_token]", self.application_token),
        ]

    def install_auth(self, user_id: int | None, _: bool) -> list[tuple[str, str]]:
        """``auth[...]`` of ONAPPINSTALL: a full token pair incl. refresh_token."""
        pair = self.tokens.issue(user_id or 1)
        return [
            ("auth[domain]", self.config.domain),
            ("auth[scope]", SCOPE),
            ("auth[access_token]", pair["access_token"]),
            ("auth[refresh_token]", pair["refresh_token"]),
            ("auth[expires]", str(pair["expires"])),
            ("auth[expires_in]", str(pair["expires_in"])),
            ("auth[server_endpoint]", self.server_endpoint),
            ("auth[status]", self.app.status),
            ("auth[client_endpoint]", self.client_endpoint),
            ("auth[member_id]", self.config.member_id),
            ("auth[user_id]", str(pair["user_id"])),
            ("auth[application_token]", self.application_token),
        ]

    def placement_payload(
        self, user_id: int, placement: str = "DEFAULT", options: dict[str, Any] | None = None
    ) -> dict[str, dict[str, str]]:
        """What the portal POSTs when ``user_id`` opens the app (or a placement).

        Returns ``{"query": {DOMAIN, PROTOCOL, LANG, APP_SID}, "body": {...}}`` as in fixtures
        ``bitrix24_placement_*.txt``.
        """
        if self.user(user_id) is None:
            raise ValueError(f"no user {user_id}")
        pair = self.tokens.issue(user_id)
        body = {
            "AUTH_ID": pair["access_token"],
            "AUTH_EXPIRES": str(pair["expires_in"]),
            "REFRESH_ID": pair["refresh_token"],
            "SERVER_ENDPOINT": self.server_endpoint,
            "member_id": self.config.member_id,
            "status": self.app.status,
            "PLACEMENT": placement,
            "PLACEMENT_OPTIONS": json.dumps(options or {}),
        }
        if placement != "DEFAULT" or self.events.install_finished:
            body |= {"APPLICATION_TOKEN": self.application_token, "APPLICATION_SCOPE": SCOPE}
        query = {
            "DOMAIN": self.config.domain,
            "PROTOCOL": "1",
            "LANG": LANG,
            "APP_SID": self.app_sid,
        }
        return {"query": query, "body": body}

    def install_payload(self) -> dict[str, str]:
        """The install-page form for the admin: query params and body fields in one flat dict.

        DOMAIN, PROTOCOL, LANG and APP_SID come in the query string in reality, the rest in the
        POST body (fixture ``bitrix24_placement_DEFAULT_install_real.txt``).
        """
        if not self.install_tokens:
            payload = self.placement_payload(1)
            self.install_tokens = {**payload["query"], **payload["body"]}
        return dict(self.install_tokens)

    # --- installation lifecycle -----------------------------------------------------------------
    def finish_install(self) -> None:
        """``BX24.installFinish()``: mark installed and send ONAPPINSTALL to bound handlers."""
        first = not self.events.install_finished
        self.events.finish_install()
        if first:
            data = [
                ("data[VERSION]", str(self.app.version)),
                ("data[ACTIVE]", "Y"),
                ("data[INSTALLED]", "Y"),
                ("data[LANGUAGE_ID]", LANG),
            ]
            self.events.emit("ONAPPINSTALL", data, self.install_auth, acting_user=1)

    def uninstall(self, clean: bool) -> None:
        """Remove the app: revoke tokens, send ONAPPUNINSTALL (no tokens), drop handlers.

        The API is already revoked when ONAPPUNINSTALL arrives (on-app-uninstall.md), which is
        how a handler can tell a genuine uninstall from a replayed one."""
        self.tokens.revoke_all()
        self.app.installed = False
        data = [("data[LANGUAGE_ID]", LANG), ("data[CLEAN]", "1" if clean else "0")]
        self.events.emit(
            "ONAPPUNINSTALL",
            data,
            lambda _user, _automation: [
                ("auth[domain]", self.config.domain),
                ("auth[server_endpoint]", self.server_endpoint),
                ("auth[client_endpoint]", self.client_endpoint),
                ("auth[member_id]", self.config.member_id),
                ("auth[application_token]", self.application_token),
            ],
            acting_user=None,
            force=True,
        )
        self.events.wait_idle(5)
        self.events.clear()
        self.events.install_finished = False
        self.install_tokens = {}
        self.placements = []

    def reinstall(self) -> dict[str, str]:
        """Install the app again (new application token and tokens); returns the install form."""
        self.app.installed = True
        self.application_token = secrets.token_hex(16)
        self.app_sid = secrets.token_hex(16)
        self.events.install_finished = False
        self.install_tokens = {}
        return self.install_payload()

    # --- notifications --------------------------------------------------------------------------
    def notify(self, from_user: int, params: dict[str, Any]) -> int:
        """Store an ``im.notify.system.add`` notification and return its id."""
        notification = {
            "id": next(self._notify_ids),
            "user_id": int(str(params.get("USER_ID") or params.get("user_id") or from_user)),
            "message": params.get("MESSAGE") or params.get("message") or "",
            "message_out": params.get("MESSAGE_OUT"),
            "tag": params.get("TAG"),
            "sub_tag": params.get("SUB_TAG"),
            "attach": params.get("ATTACH"),
            "from_user": from_user,
            "at": format_ts(self.clock()),
        }
        self.notifications.append(notification)
        return notification["id"]

    # --- CRM services ---------------------------------------------------------------------------
    def _emit(
        self, event: str, fields: dict[str, Any], user_id: int | None, automation: bool
    ) -> None:
        data = [(f"data[FIELDS][{k}]", str(v)) for k, v in fields.items()]
        self.events.emit(event, data, self.event_auth, acting_user=user_id, automation=automation)

    def _require(self, entity: Entity, row_id: Any) -> dict[str, Any]:
        try:
            ident = int(str(row_id))
        except (TypeError, ValueError) as error:
            raise crm_error("ID is not defined or invalid.") from error
        if ident <= 0:
            raise crm_error("ID is not defined or invalid.")
        row = self.store.get_row(entity, ident)
        if row is None:
            raise crm_error("Not found")
        return row

    def _history(self, entity: Entity, values: dict[str, Any]) -> None:
        self.store.insert_row(entity, values)

    def deal_add(self, fields: dict[str, Any], user_id: int, automation: bool = False) -> int:
        """Create a deal (stage history TYPE_ID 1, ONCRMDEALADD)."""
        now = self.clock()
        values = {k: _store_value(DEAL, k, v) for k, v in fields.items() if k in _WRITABLE_DEAL}
        category = _store_value(DEAL, "CATEGORY_ID", fields.get("CATEGORY_ID")) or 0
        if category not in {c["id"] for c in self.categories}:
            raise crm_error("Category not found")
        stages = reference.deal_stages(category)
        stage_id = values.get("STAGE_ID") or stages[0].status_id
        found = self.stages.get(stage_id)
        if found is None or found[0] != category:
            stage_id = stages[0].status_id
        stage = self.stages[stage_id][1]
        user = values.get("ASSIGNED_BY_ID") or user_id
        values.update(
            {
                "TITLE": values.get("TITLE") or "",
                "STAGE_ID": stage_id,
                "CATEGORY_ID": category,
                "STAGE_SEMANTIC_ID": stage.semantic_id,
                "CURRENCY_ID": values.get("CURRENCY_ID") or "RUB",
                "OPPORTUNITY": values.get("OPPORTUNITY") or 0.0,
                "IS_MANUAL_OPPORTUNITY": values.get("IS_MANUAL_OPPORTUNITY") or "N",
                "TAX_VALUE": 0.0,
                "COMPANY_ID": values.get("COMPANY_ID") or 0,
                "BEGINDATE": values.get("BEGINDATE") or format_date(now),
                "CLOSEDATE": values.get("CLOSEDATE") or format_date(now + 7 * 86400),
                "ASSIGNED_BY_ID": user,
                "CREATED_BY_ID": user_id,
                "MODIFY_BY_ID": user_id,
                "DATE_CREATE": format_ts(now),
                "DATE_MODIFY": format_ts(now),
                "OPENED": values.get("OPENED") or "Y",
                "CLOSED": "N" if stage.semantic_id == "P" else "Y",
                "IS_NEW": "Y",
                "IS_RECURRING": "N",
                "IS_RETURN_CUSTOMER": "N",
                "IS_REPEATED_APPROACH": "N",
                "MOVED_BY_ID": user_id,
                "MOVED_TIME": format_ts(now),
                "LAST_ACTIVITY_TIME": format_ts(now),
                "LAST_ACTIVITY_BY": user_id,
            }
        )
        with self.lock:
            deal_id = self.store.insert_row(DEAL, values)
            self._history(
                DEAL_HISTORY,
                {
                    "TYPE_ID": 1,
                    "OWNER_ID": deal_id,
                    "CREATED_TIME": format_ts(now),
                    "CATEGORY_ID": category,
                    "STAGE_SEMANTIC_ID": stage.semantic_id,
                    "STAGE_ID": stage_id,
                },
            )
        self._emit("ONCRMDEALADD", {"ID": deal_id}, user_id, automation)
        return deal_id

    def deal_update(
        self, deal_id: Any, fields: dict[str, Any], user_id: int, automation: bool = False
    ) -> None:
        """Update a deal; a stage change writes stage history. CATEGORY_ID is ignored here
        (the pipeline is changed by :meth:`deal_move_category`, as in Bitrix24)."""
        with self.lock:
            row = self._require(DEAL, deal_id)
            now = self.clock()
            values = {k: _store_value(DEAL, k, v) for k, v in fields.items() if k in _WRITABLE_DEAL}
            new_stage = values.pop("STAGE_ID", None)
            if new_stage and new_stage != row["STAGE_ID"]:
                found = self.stages.get(new_stage)
                if found is not None and found[0] == row["CATEGORY_ID"]:
                    stage = found[1]
                    closed = stage.semantic_id != "P"
                    values.update(
                        {
                            "STAGE_ID": new_stage,
                            "STAGE_SEMANTIC_ID": stage.semantic_id,
                            "CLOSED": "Y" if closed else "N",
                            "MOVED_TIME": format_ts(now),
                            "MOVED_BY_ID": user_id,
                            "IS_NEW": "N",
                        }
                    )
                    if closed and "CLOSEDATE" not in values:
                        values["CLOSEDATE"] = format_date(now)
                    self._history(
                        DEAL_HISTORY,
                        {
                            "TYPE_ID": 3 if closed else 2,
                            "OWNER_ID": row["ID"],
                            "CREATED_TIME": format_ts(now),
                            "CATEGORY_ID": row["CATEGORY_ID"],
                            "STAGE_SEMANTIC_ID": stage.semantic_id,
                            "STAGE_ID": new_stage,
                        },
                    )
            values["DATE_MODIFY"] = format_ts(now)
            values["MODIFY_BY_ID"] = user_id
            self.store.update_row(DEAL, row["ID"], values)
        self._emit("ONCRMDEALUPDATE", {"ID": row["ID"]}, user_id, automation)

    def deal_move_category(
        self,
        deal_id: Any,
        category_id: int,
        stage_id: str | None,
        user_id: int,
        automation: bool = False,
    ) -> None:
        """Move a deal to another pipeline: history TYPE_ID 5 and ONCRMDEALMOVETOCATEGORY only."""
        with self.lock:
            row = self._require(DEAL, deal_id)
            if category_id not in {c["id"] for c in self.categories}:
                raise crm_error("Category not found")
            stages = reference.deal_stages(category_id)
            target = stage_id or stages[0].status_id
            found = self.stages.get(target)
            if found is None or found[0] != category_id:
                raise crm_error(f"Stage {target} not found in category {category_id}")
            stage = found[1]
            now = self.clock()
            self.store.update_row(
                DEAL,
                row["ID"],
                {
                    "CATEGORY_ID": category_id,
                    "STAGE_ID": target,
                    "STAGE_SEMANTIC_ID": stage.semantic_id,
                    "CLOSED": "N" if stage.semantic_id == "P" else "Y",
                    "MOVED_TIME": format_ts(now),
                    "MOVED_BY_ID": user_id,
                    "DATE_MODIFY": format_ts(now),
                    "MODIFY_BY_ID": user_id,
                },
            )
            self._history(
                DEAL_HISTORY,
                {
                    "TYPE_ID": 5,
                    "OWNER_ID": row["ID"],
                    "CREATED_TIME": format_ts(now),
                    "CATEGORY_ID": category_id,
                    "STAGE_SEMANTIC_ID": stage.semantic_id,
                    "STAGE_ID": target,
                },
            )
        self._emit(
            "ONCRMDEALMOVETOCATEGORY",
            {"ID": row["ID"], "CATEGORY_ID": category_id, "STAGE_ID": target},
            user_id,
            automation,
        )

    def deal_delete(self, deal_id: Any, user_id: int, automation: bool = False) -> None:
        """Delete a deal with its stage history and activities (ONCRMDEALDELETE)."""
        with self.lock:
            row = self._require(DEAL, deal_id)
            with self.store.transaction() as conn:
                conn.execute("DELETE FROM deals WHERE ID = ?", (row["ID"],))
                conn.execute("DELETE FROM deal_history WHERE OWNER_ID = ?", (row["ID"],))
                conn.execute(
                    "DELETE FROM activities WHERE OWNER_TYPE_ID = 2 AND OWNER_ID = ?", (row["ID"],)
                )
        self._emit("ONCRMDEALDELETE", {"ID": row["ID"]}, user_id, automation)

    def lead_add(self, fields: dict[str, Any], user_id: int, automation: bool = False) -> int:
        """Create a lead (status history TYPE_ID 1, ONCRMLEADADD)."""
        now = self.clock()
        values = {k: _store_value(LEAD, k, v) for k, v in fields.items() if k in _WRITABLE_LEAD}
        status_id = (
            values.get("STATUS_ID") if values.get("STATUS_ID") in self.lead_statuses else "NEW"
        )
        status = self.lead_statuses[status_id]
        values.update(
            {
                "TITLE": values.get("TITLE") or "",
                "STATUS_ID": status_id,
                "STATUS_SEMANTIC_ID": status.semantic_id,
                "CURRENCY_ID": values.get("CURRENCY_ID") or "RUB",
                "OPPORTUNITY": values.get("OPPORTUNITY") or 0.0,
                "IS_MANUAL_OPPORTUNITY": "N",
                "IS_RETURN_CUSTOMER": "N",
                "BIRTHDATE": "",
                "HAS_PHONE": "Y" if values.get("PHONE") else "N",
                "HAS_EMAIL": "Y" if values.get("EMAIL") else "N",
                "HAS_IMOL": "N",
                "ASSIGNED_BY_ID": values.get("ASSIGNED_BY_ID") or user_id,
                "CREATED_BY_ID": user_id,
                "MODIFY_BY_ID": user_id,
                "DATE_CREATE": format_ts(now),
                "DATE_MODIFY": format_ts(now),
                "DATE_CLOSED": "" if status.semantic_id == "P" else format_ts(now),
                "OPENED": "Y",
                "MOVED_BY_ID": user_id,
                "MOVED_TIME": format_ts(now),
                "LAST_ACTIVITY_BY": user_id,
                "LAST_ACTIVITY_TIME": format_ts(now),
            }
        )
        with self.lock:
            lead_id = self.store.insert_row(LEAD, values)
            self._history(
                LEAD_HISTORY,
                {
                    "TYPE_ID": 1,
                    "OWNER_ID": lead_id,
                    "CREATED_TIME": format_ts(now),
                    "STATUS_SEMANTIC_ID": status.semantic_id,
                    "STATUS_ID": status_id,
                },
            )
        self._emit("ONCRMLEADADD", {"ID": lead_id}, user_id, automation)
        return lead_id

    def lead_update(
        self, lead_id: Any, fields: dict[str, Any], user_id: int, automation: bool = False
    ) -> None:
        """Update a lead; a status change writes status history."""
        with self.lock:
            row = self._require(LEAD, lead_id)
            now = self.clock()
            values = {k: _store_value(LEAD, k, v) for k, v in fields.items() if k in _WRITABLE_LEAD}
            new_status = values.pop("STATUS_ID", None)
            if new_status and new_status != row["STATUS_ID"] and new_status in self.lead_statuses:
                status = self.lead_statuses[new_status]
                closed = status.semantic_id != "P"
                values.update(
                    {
                        "STATUS_ID": new_status,
                        "STATUS_SEMANTIC_ID": status.semantic_id,
                        "DATE_CLOSED": format_ts(now) if closed else "",
                        "MOVED_TIME": format_ts(now),
                        "MOVED_BY_ID": user_id,
                    }
                )
                self._history(
                    LEAD_HISTORY,
                    {
                        "TYPE_ID": 3 if closed else 2,
                        "OWNER_ID": row["ID"],
                        "CREATED_TIME": format_ts(now),
                        "STATUS_SEMANTIC_ID": status.semantic_id,
                        "STATUS_ID": new_status,
                    },
                )
            if "PHONE" in values:
                values["HAS_PHONE"] = "Y" if values["PHONE"] else "N"
            if "EMAIL" in values:
                values["HAS_EMAIL"] = "Y" if values["EMAIL"] else "N"
            values["DATE_MODIFY"] = format_ts(now)
            values["MODIFY_BY_ID"] = user_id
            self.store.update_row(LEAD, row["ID"], values)
        self._emit("ONCRMLEADUPDATE", {"ID": row["ID"]}, user_id, automation)

    def lead_delete(self, lead_id: Any, user_id: int, automation: bool = False) -> None:
        """Delete a lead with its history and activities (ONCRMLEADDELETE)."""
        with self.lock:
            row = self._require(LEAD, lead_id)
            with self.store.transaction() as conn:
                conn.execute("DELETE FROM leads WHERE ID = ?", (row["ID"],))
                conn.execute("DELETE FROM lead_history WHERE OWNER_ID = ?", (row["ID"],))
                conn.execute(
                    "DELETE FROM activities WHERE OWNER_TYPE_ID = 1 AND OWNER_ID = ?", (row["ID"],)
                )
        self._emit("ONCRMLEADDELETE", {"ID": row["ID"]}, user_id, automation)

    def lead_convert(self, lead_id: Any, user_id: int, automation: bool = False) -> int:
        """Convert a lead: status CONVERTED and a new deal with LEAD_ID, source and UTM copied."""
        row = self._require(LEAD, lead_id)
        self.lead_update(row["ID"], {"STATUS_ID": "CONVERTED"}, user_id, automation)
        fields = {
            k: row[k]
            for k in (
                "SOURCE_ID",
                "UTM_SOURCE",
                "UTM_MEDIUM",
                "UTM_CAMPAIGN",
                "UTM_CONTENT",
                "UTM_TERM",
            )
        }
        fields |= {
            "TITLE": row["TITLE"],
            "LEAD_ID": row["ID"],
            "ASSIGNED_BY_ID": row["ASSIGNED_BY_ID"],
            "OPPORTUNITY": row["OPPORTUNITY"],
            "CONTACT_ID": row["CONTACT_ID"],
            "COMPANY_ID": row["COMPANY_ID"],
        }
        return self.deal_add(
            {k: v for k, v in fields.items() if v is not None}, user_id, automation
        )

    def _touch_owner(self, owner_type: int, owner_id: int, when: str, user_id: int) -> None:
        entity = {1: LEAD, 2: DEAL}.get(owner_type)
        if entity is not None:
            self.store.update_row(
                entity, owner_id, {"LAST_ACTIVITY_TIME": when, "LAST_ACTIVITY_BY": user_id}
            )

    def activity_add(self, fields: dict[str, Any], user_id: int, automation: bool = False) -> int:
        """Create an activity bound to a lead/deal (ONCRMACTIVITYADD)."""
        values = {
            k: _store_value(ACTIVITY, k, v) for k, v in fields.items() if k in _WRITABLE_ACTIVITY
        }
        for required in ("OWNER_TYPE_ID", "OWNER_ID", "TYPE_ID"):
            if not values.get(required):
                raise crm_error(f"The field {required} is required.")
        owner_entity = {1: LEAD, 2: DEAL}.get(values["OWNER_TYPE_ID"])
        if (
            owner_entity is not None
            and self.store.get_row(owner_entity, values["OWNER_ID"]) is None
        ):
            raise crm_error("Owner not found")
        now = format_ts(self.clock())
        completed = values.get("COMPLETED") or "N"
        start = values.get("START_TIME") or now
        end = values.get("END_TIME") or start
        responsible = values.get("RESPONSIBLE_ID") or user_id
        defaults = {
            "PROVIDER_ID": {1: "CRM_MEETING", 2: "VOXIMPLANT_CALL", 3: "TASKS", 4: "CRM_EMAIL"}.get(
                values["TYPE_ID"], "CRM_TODO"
            ),
            "PROVIDER_TYPE_ID": {1: "MEETING", 2: "CALL", 3: "TASK", 4: "EMAIL"}.get(
                values["TYPE_ID"], "TODO"
            ),
            "ASSOCIATED_ENTITY_ID": 0,
            "SUBJECT": "",
            "PRIORITY": 2,
            "NOTIFY_TYPE": 1,
            "NOTIFY_VALUE": 15,
            "DESCRIPTION": "",
            "DESCRIPTION_TYPE": 1,
            "DIRECTION": 0,
            "LOCATION": "",
            "SETTINGS": "[]",
            "PROVIDER_PARAMS": "[]",
            "RESULT_MARK": 0,
            "RESULT_STATUS": 0,
            "RESULT_STREAM": 0,
            "AUTOCOMPLETE_RULE": 0,
        }
        values = defaults | values
        values.update(
            {
                "CREATED": now,
                "LAST_UPDATED": now,
                "START_TIME": start,
                "END_TIME": end,
                "DEADLINE": values.get("DEADLINE")
                or (end if values["TYPE_ID"] in (3, 6) else start),
                "COMPLETED": completed,
                "STATUS": 2 if completed == "Y" else 1,
                "RESPONSIBLE_ID": responsible,
                "AUTHOR_ID": user_id,
                "EDITOR_ID": user_id,
            }
        )
        with self.lock:
            activity_id = self.store.insert_row(ACTIVITY, values)
            self._touch_owner(values["OWNER_TYPE_ID"], values["OWNER_ID"], now, responsible)
        self._emit("ONCRMACTIVITYADD", {"ID": activity_id}, user_id, automation)
        return activity_id

    def activity_update(
        self, activity_id: Any, fields: dict[str, Any], user_id: int, automation: bool = False
    ) -> None:
        """Update an activity (e.g. complete it) (ONCRMACTIVITYUPDATE)."""
        with self.lock:
            row = self._require(ACTIVITY, activity_id)
            now = format_ts(self.clock())
            values = {
                k: _store_value(ACTIVITY, k, v)
                for k, v in fields.items()
                if k in _WRITABLE_ACTIVITY
            }
            if values.get("COMPLETED") == "Y":
                values["STATUS"] = 2
                values.setdefault("END_TIME", now)
            elif values.get("COMPLETED") == "N":
                values["STATUS"] = 1
            values["LAST_UPDATED"] = now
            values["EDITOR_ID"] = user_id
            self.store.update_row(ACTIVITY, row["ID"], values)
            self._touch_owner(row["OWNER_TYPE_ID"], row["OWNER_ID"], now, user_id)
        self._emit("ONCRMACTIVITYUPDATE", {"ID": row["ID"]}, user_id, automation)

    def activity_delete(self, activity_id: Any, user_id: int, automation: bool = False) -> None:
        """Delete an activity (ONCRMACTIVITYDELETE)."""
        with self.lock:
            row = self._require(ACTIVITY, activity_id)
            self.store.delete_row(ACTIVITY, row["ID"])
        self._emit("ONCRMACTIVITYDELETE", {"ID": row["ID"]}, user_id, automation)
