"""Bitrix24 behind the CRM-neutral adapter interface (records in, records out).

Every call goes through the official SDK with the portal's stored tokens; every failure
leaves as a CrmError saying whether a retry can help.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import TypeVar

from b24pysdk.errors import (
    BitrixAPIExpiredToken,
    BitrixAPIInternalServerError,
    BitrixAPIInvalidToken,
    BitrixAPIServiceUnavailable,
    BitrixAPITooManyRequests,
    BitrixRequestError,
    BitrixSDKException,
)
from django.conf import settings

from crmapp.models import Portal
from integrations.bitrix24 import normalize
from integrations.bitrix24.sdk import PortalToken
from integrations.errors import CrmError, InvalidPayload, ReauthorisationRequired
from integrations.records import (
    ActivityRecord,
    DealRecord,
    Directory,
    HistorySource,
    LeadRecord,
    NoticeLine,
    PaidStateRecord,
    SourceRecord,
    StageChangeRecord,
    StageRecord,
)

T = TypeVar("T")

DEAL_FIELDS = [
    "ID", "TITLE", "CATEGORY_ID", "STAGE_ID", "STAGE_SEMANTIC_ID", "OPPORTUNITY", "CURRENCY_ID",
    "ASSIGNED_BY_ID", "COMPANY_ID", "CONTACT_ID", "LEAD_ID", "SOURCE_ID", "DATE_CREATE",
    "DATE_MODIFY", "CLOSEDATE", "CLOSED", "MOVED_TIME",
    "UTM_SOURCE", "UTM_MEDIUM", "UTM_CAMPAIGN", "UTM_CONTENT", "UTM_TERM",
]  # fmt: skip
LEAD_FIELDS = [
    "ID", "TITLE", "STATUS_ID", "STATUS_SEMANTIC_ID", "OPPORTUNITY", "CURRENCY_ID",
    "ASSIGNED_BY_ID", "SOURCE_ID", "DATE_CREATE", "DATE_MODIFY", "DATE_CLOSED", "MOVED_TIME",
    "UTM_SOURCE", "UTM_MEDIUM", "UTM_CAMPAIGN", "UTM_CONTENT", "UTM_TERM",
]  # fmt: skip
ACTIVITY_FIELDS = [
    "ID", "OWNER_ID", "OWNER_TYPE_ID", "TYPE_ID", "PROVIDER_ID", "SUBJECT", "CREATED",
    "LAST_UPDATED", "END_TIME", "DEADLINE", "COMPLETED", "RESPONSIBLE_ID",
]  # fmt: skip
STAGE_HISTORY_FIELDS = {
    "deal": ["ID", "TYPE_ID", "OWNER_ID", "CREATED_TIME", "CATEGORY_ID", "STAGE_SEMANTIC_ID",
             "STAGE_ID"],
    "lead": ["ID", "TYPE_ID", "OWNER_ID", "CREATED_TIME", "STATUS_SEMANTIC_ID", "STATUS_ID"],
}  # fmt: skip
# The CRM entities our reports follow, and the events that say one of them changed.
EVENTS = [
    "ONCRMDEALADD", "ONCRMDEALUPDATE", "ONCRMDEALDELETE", "ONCRMDEALMOVETOCATEGORY",
    "ONCRMLEADADD", "ONCRMLEADUPDATE", "ONCRMLEADDELETE",
    "ONCRMACTIVITYADD", "ONCRMACTIVITYUPDATE", "ONCRMACTIVITYDELETE",
    "ONAPPINSTALL", "ONAPPUNINSTALL",
]  # fmt: skip
# Errors inside a batch that a later try can get past (system errors, limits.md).
TRANSIENT_ERROR_CODES = {
    "INTERNAL_SERVER_ERROR", "ERROR_UNEXPECTED_ANSWER", "QUERY_LIMIT_EXCEEDED",
    "OVERLOAD_LIMIT", "OPERATION_TIME_LIMIT", "expired_token", "invalid_token",
}  # fmt: skip
ENTITY_LISTS = {
    "deal": ("crm.deal.list", DEAL_FIELDS, normalize.deal_from_b24),
    "lead": ("crm.lead.list", LEAD_FIELDS, normalize.lead_from_b24),
}
DIRECTORY_COMMANDS = {
    "departments": ("department.get", {}),
    "employees": ("user.get", {"FILTER": {"USER_TYPE": "employee"}}),
    "pipelines": ("crm.category.list", {"entityTypeId": 2}),
    "statuses": ("crm.status.list", {"order": {"SORT": "ASC"}}),
}


def b24_time(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


def _crm_error(error: BitrixSDKException) -> CrmError:
    """The SDK's error as ours: busy, unreachable or token trouble can pass; the rest cannot."""
    transient = (
        BitrixAPIServiceUnavailable,
        BitrixAPITooManyRequests,
        BitrixAPIInternalServerError,
        BitrixRequestError,
        BitrixAPIExpiredToken,
        BitrixAPIInvalidToken,
    )
    if isinstance(error, transient):
        return CrmError(f"Bitrix24 is busy or unreachable: {error}", retryable=True)
    return CrmError(f"Bitrix24 error: {error}", retryable=False)


def _bb_line(line: NoticeLine) -> str:
    """A notification line in BB-code: a card link is [URL=…]title[/URL] (brackets in the
    title would end it early, so they become parentheses)."""
    if not line.link_url:
        return line.text
    title = line.link_text.replace("[", "(").replace("]", ")")
    return f"[URL={line.link_url}]{title}[/URL] — {line.text}"


class Bitrix24Adapter:
    kind = Portal.Kind.BITRIX24

    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.token = PortalToken(portal)

    # -- plumbing -------------------------------------------------------------------------

    def _run(self, action: Callable[[], T]) -> T:
        """Run one SDK action; refresh once on a token error raised outside the SDK's own
        retry (while a fast-list generator is consumed), and translate every failure."""
        try:
            try:
                return action()
            except (BitrixAPIExpiredToken, BitrixAPIInvalidToken):
                self.token.refresh_and_set_oauth_token()
                return action()
        except ReauthorisationRequired:
            raise
        except BitrixSDKException as error:
            raise _crm_error(error) from error

    def call(self, method: str, params: dict | None = None):
        return self._run(lambda: self.token.call_method(method, params or {}))["result"]

    def paid_state(self) -> PaidStateRecord:
        """What the account pays for, from the portal-side app.info (STATUS, PAYMENT_EXPIRED,
        DAYS); the paid plan is the BITRIX24_PAID_TIER setting."""
        try:
            return normalize.paid_state_from_b24(
                self.call("app.info"), paid_tier=settings.BITRIX24_PAID_TIER
            )
        except InvalidPayload as error:
            raise CrmError(f"Bitrix24 app.info: {error}", retryable=False) from error

    def notify(self, user_crm_id: int, lines: list[NoticeLine], *, tag: str = "") -> None:
        """A system notification in the user's CRM notification centre (BB-code message)."""
        message = "\n".join(_bb_line(line) for line in lines)
        self.call("im.notify.system.add", {"USER_ID": user_crm_id, "MESSAGE": message, "TAG": tag})

    def _all(self, method: str, params: dict | None = None) -> list:
        """Every row of a short list (users, stages): classic paging with `start`."""
        return self._run(lambda: self.token.call_list(method, params or {}))["result"]

    def _by_ids(self, method: str, ids: Iterable[int], select: list[str]) -> list:
        ids = sorted(set(ids))
        if not ids:
            return []
        params = {"filter": {"@ID": ids}, "select": select}
        return self._run(lambda: list(self.token.call_list_fast(method, params)["result"]))

    # -- directory ------------------------------------------------------------------------

    def directory(self) -> Directory:
        """Departments, employees (fired ones too: they still own deals), pipelines, stages
        and sources: one batch request, paging on only where a list is longer than a page."""
        batch = self._run(lambda: self.token.call_batch(DIRECTORY_COMMANDS))["result"]
        if errors := batch.get("result_error"):
            codes = {error.get("error") for error in errors.values()}
            raise CrmError(
                f"Bitrix24 refused the directory: {errors}",
                retryable=codes <= TRANSIENT_ERROR_CODES,
            )
        # PHP sends an empty map as [], so a batch with nothing more to page has a list here.
        more = batch.get("result_next") or {}
        rows = {
            name: self._all(method, params) if more.get(name) else batch["result"][name]
            for name, (method, params) in DIRECTORY_COMMANDS.items()
        }
        statuses = [normalize.stage_from_b24(row) for row in rows["statuses"]]
        return Directory(
            departments=[normalize.department_from_b24(row) for row in rows["departments"]],
            employees=[normalize.employee_from_b24(row) for row in rows["employees"]],
            pipelines=[normalize.pipeline_from_b24(row) for row in rows["pipelines"]["categories"]],
            stages=[record for record in statuses if isinstance(record, StageRecord)],
            sources=[record for record in statuses if isinstance(record, SourceRecord)],
        )

    # -- entities in CRM-id order (import, reconciliation) --------------------------------

    def _stream(self, method: str, params: dict, after_id: int) -> Iterator[dict]:
        """Rows with ids above `after_id`, lazily, through batch + moving-ID pagination.

        A generator that raised is finished, so a token refresh mid-stream restarts the
        listing after the last row handed out rather than retrying inside it.
        """
        refreshed = False
        while True:
            listing = dict(params, filter=params["filter"] | {">ID": after_id})
            try:
                for row in self.token.call_list_fast(method, listing)["result"]:
                    after_id = int(row["ID"])
                    yield row
                return
            except (BitrixAPIExpiredToken, BitrixAPIInvalidToken) as error:
                if refreshed:
                    raise CrmError(
                        f"Bitrix24 refused fresh tokens: {error}", retryable=True
                    ) from error
                self._run(self.token.refresh_and_set_oauth_token)
                refreshed = True
            except BitrixSDKException as error:
                raise _crm_error(error) from error

    def history_sources(self, since: datetime) -> list[HistorySource]:
        """Everything the reports need from `since` on, plus what is still open from before.

        Changed since the window start: every lead, deal, activity and stage move. Older but
        still open: leads, deals and planned activities (they are "in work" and can be
        forgotten today, however long ago they were last touched).
        """
        t = b24_time(since)

        def source(name, entity_type, method, filter, select, parse, **extra):
            params = {"filter": filter, "select": select, **extra}
            return HistorySource(
                name=name,
                entity_type=entity_type,
                stream=lambda after_id: map(parse, self._stream(method, params, after_id)),
                count=(method, {"filter": filter, "select": ["ID"], **extra}),
            )

        def history(entity_type):
            return lambda row: normalize.stage_change_from_b24(row, entity_type=entity_type)

        lead, deal, activity = (
            normalize.lead_from_b24,
            normalize.deal_from_b24,
            normalize.activity_from_b24,
        )
        return [
            source("leads", "lead", "crm.lead.list", {">=DATE_MODIFY": t}, LEAD_FIELDS, lead),
            source("open_leads", "lead", "crm.lead.list",
                   {"<DATE_MODIFY": t, "STATUS_SEMANTIC_ID": "P"}, LEAD_FIELDS, lead),
            source("deals", "deal", "crm.deal.list", {">=DATE_MODIFY": t}, DEAL_FIELDS, deal),
            source("open_deals", "deal", "crm.deal.list",
                   {"<DATE_MODIFY": t, "CLOSED": "N"}, DEAL_FIELDS, deal),
            source("activities", "activity", "crm.activity.list",
                   {">=LAST_UPDATED": t}, ACTIVITY_FIELDS, activity),
            source("planned_activities", "activity", "crm.activity.list",
                   {"<LAST_UPDATED": t, "COMPLETED": "N"}, ACTIVITY_FIELDS, activity),
            source("deal_history", "deal_history", "crm.stagehistory.list",
                   {">=CREATED_TIME": t}, STAGE_HISTORY_FIELDS["deal"], history("deal"),
                   entityTypeId=2),
            source("lead_history", "lead_history", "crm.stagehistory.list",
                   {">=CREATED_TIME": t}, STAGE_HISTORY_FIELDS["lead"], history("lead"),
                   entityTypeId=1),
        ]  # fmt: skip

    def changed_since(self, since: datetime) -> dict[str, set[int]]:
        """Ids of the leads, deals and activities modified after `since` (reconciliation)."""
        t = b24_time(since)
        listings = {
            "lead": ("crm.lead.list", {">DATE_MODIFY": t}),
            "deal": ("crm.deal.list", {">DATE_MODIFY": t}),
            "activity": ("crm.activity.list", {">LAST_UPDATED": t}),
        }
        return {
            entity_type: {
                int(row["ID"])
                for row in self._stream(method, {"filter": filter, "select": ["ID"]}, 0)
            }
            for entity_type, (method, filter) in listings.items()
        }

    def all_ids(self, entity_type: str) -> set[int]:
        """Every id of a lead, deal or activity the CRM still has (finding deletions)."""
        method = {"lead": "crm.lead.list", "deal": "crm.deal.list", "activity": "crm.activity.list"}
        params = {"filter": {}, "select": ["ID"]}
        return {int(row["ID"]) for row in self._stream(method[entity_type], params, 0)}

    def estimates(self, sources: list[HistorySource]) -> dict[str, int]:
        """How many rows each source holds, in one batch request (for the progress bar)."""
        commands = {source.name: source.count for source in sources}
        response = self._run(lambda: self.token.call_batch(commands))["result"]
        totals = response.get("result_total") or {}
        return {name: int(totals.get(name) or 0) for name in commands}

    # -- entities by id (events) ----------------------------------------------------------

    def entities_current(
        self, entity_type: str, ids: Iterable[int]
    ) -> tuple[list[DealRecord | LeadRecord], list[StageChangeRecord], list[ActivityRecord]]:
        """Leads or deals as they are now, with their stage history and activities.

        One batch request for a burst (three listings of up to a page each): under the 2
        requests/s limit, this is what keeps an event's way into the mirror under a second.
        A listing longer than a page is read again in full with the paged method.
        """
        ids = sorted(set(ids))
        method, select, parse = ENTITY_LISTS[entity_type]
        commands = {
            "entities": (method, {"filter": {"@ID": ids}, "select": select}),
            "history": (
                "crm.stagehistory.list",
                {
                    "entityTypeId": normalize.ENTITY_TYPE_ID[entity_type],
                    "filter": {"@OWNER_ID": ids},
                    "select": STAGE_HISTORY_FIELDS[entity_type],
                },
            ),
            "activities": (
                "crm.activity.list",
                {
                    "filter": {"OWNER_TYPE_ID": normalize.ENTITY_TYPE_ID[entity_type],
                               "@OWNER_ID": ids},
                    "select": ACTIVITY_FIELDS,
                },
            ),
        }  # fmt: skip
        batch = self._run(lambda: self.token.call_batch(commands))["result"]
        if errors := batch.get("result_error"):
            codes = {error.get("error") for error in errors.values()}
            raise CrmError(
                f"Bitrix24 refused a refresh: {errors}", retryable=codes <= TRANSIENT_ERROR_CODES
            )
        more = batch.get("result_next") or {}
        rows = {}
        for name, (list_method, params) in commands.items():
            if name in more:
                rows[name] = self._run(
                    lambda m=list_method, p=params: list(self.token.call_list_fast(m, p)["result"])
                )
            else:
                result = batch["result"][name]
                rows[name] = result["items"] if isinstance(result, dict) else result
        return (
            [parse(row) for row in rows["entities"]],
            [
                normalize.stage_change_from_b24(row, entity_type=entity_type)
                for row in rows["history"]
            ],
            [normalize.activity_from_b24(row) for row in rows["activities"]],
        )

    def activities_by_id(self, ids: Iterable[int]) -> list[ActivityRecord]:
        rows = self._by_ids("crm.activity.list", ids, ACTIVITY_FIELDS)
        return [normalize.activity_from_b24(row) for row in rows]

    # -- events -----------------------------------------------------------------------------

    def events_bind(self) -> None:
        """Bind our event handler; handlers vanish on every app update, so bind at each install."""
        handler_url = f"{settings.PUBLIC_URL}/bitrix24/events/"
        bound = {(row["event"].upper(), row["handler"]) for row in self.call("event.get")}
        for event in EVENTS:
            if (event, handler_url) not in bound:
                self.call("event.bind", {"event": event, "handler": handler_url})
