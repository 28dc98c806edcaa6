"""The contract between the CRM-neutral product and one CRM's folder (integrations/<crm>/).

Two halves. `CrmAdapter` is bound to one portal and speaks to its CRM account (what the
import, the sync, reconciliation, the paid-state read and the reminders call). `Crm` is the
CRM itself: the module integrations.registry names for a kind, holding what needs no portal
yet — the pure event parser, the lifecycle events, the app-open flow, card links and the
host script the framed pages load. Errors: a CRM call that fails raises
integrations.errors.CrmError, whose `retryable` says whether trying again can help; a request
from the CRM that is malformed or does not verify raises InvalidPayload.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from integrations.errors import CrmError, InvalidPayload
from integrations.records import (
    ActivityRecord,
    DealRecord,
    Directory,
    HistorySource,
    LeadRecord,
    NoticeLine,
    PaidStateRecord,
    StageChangeRecord,
)

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

    from crmapp.models import Portal

__all__ = [
    "RUSSIAN_SPEAKING",
    "AppOpenRefused",
    "AppOpening",
    "Crm",
    "CrmAdapter",
    "CrmError",
    "CrmEvent",
    "InvalidPayload",
]
# A CRM account's language codes whose users read the app in Russian (the rest: English).
RUSSIAN_SPEAKING = {"ru", "ua", "by", "kz"}


@dataclass(frozen=True)
class CrmEvent:
    """One event the CRM sent, as the neutral inbox stores and applies it."""

    name: str  # the CRM's own event name, stored as is
    account_id: str  # which CRM account sent it (Portal.member_id)
    entity_type: str = ""  # lead | deal | activity for entity events
    action: str = ""  # upsert | delete for entity events
    entity_id: int | None = None
    lifecycle: str = ""  # install | uninstall for the app's own events
    clean: bool = False  # an uninstall that asked for the data to be deleted
    known: bool = True  # False: an event we neither bound nor use (answered, not stored)
    proof: str = ""  # what the CRM attaches to prove the sender (event_verified checks it)


class AppOpenRefused(Exception):
    """The CRM's call to open the app is refused: the HTTP status (400 malformed, 404 not
    installed, 403 not confirmed), the user's message, and the language to show it in
    (None: the request's own)."""

    def __init__(self, status: int, message: str, *, language: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.language = status, message, language


@dataclass(frozen=True)
class AppOpening:
    """Who opened the app from the CRM, confirmed by the CRM."""

    portal: Portal
    user_crm_id: int
    role: str  # frontend.session.Role value: admin | head | manager
    department_ids: tuple[int, ...]  # the departments a head sees
    language: str  # ru | en


class CrmAdapter(Protocol):
    """One portal's CRM account, as the CRM-neutral code calls it."""

    def directory(self) -> Directory:
        """Departments, employees, pipelines with their stages, and lead sources."""

    def history_sources(self, since: datetime) -> list[HistorySource]:
        """The streams an import walks: changed since `since`, plus what is still open."""

    def estimates(self, sources: list[HistorySource]) -> dict[str, int]:
        """How many rows each source holds (the progress bar's totals), by source name."""

    def changed_since(self, since: datetime) -> dict[str, set[int]]:
        """Ids of the leads, deals and activities modified after `since` (reconciliation)."""

    def all_ids(self, entity_type: str) -> set[int]:
        """Every id of a lead, deal or activity the CRM still has (finding deletions)."""

    def entities_current(
        self, entity_type: str, ids: Iterable[int]
    ) -> tuple[list[DealRecord | LeadRecord], list[StageChangeRecord], list[ActivityRecord]]:
        """Leads or deals as they are now, with their stage history and activities."""

    def activities_by_id(self, ids: Iterable[int]) -> list[ActivityRecord]:
        """Activities as they are now (those the CRM no longer has are absent)."""

    def events_bind(self) -> None:
        """Ask the CRM to send us its change events (idempotent)."""

    def paid_state(self) -> PaidStateRecord:
        """What the account pays for, as the CRM reports it."""

    def notify(self, user_crm_id: int, lines: list[NoticeLine], *, tag: str = "") -> None:
        """A notification to one user in the CRM's notification centre: plain lines in, the
        CRM's own markup (links to cards) made here, never by the caller. `tag` groups
        repeats (one reminder a day)."""


class Crm(Protocol):
    """A CRM kind: the module integrations.registry names for it."""

    NAME: str  # the brand, untranslated (marked with gettext_noop; pages translate it)
    # What the CRM's data cannot say, so pages tell the reader: a CRM with no lead entity
    # has its lead figures computed on deals; one whose API gives no e-mails counts none.
    LEADS_ARE_DEALS: bool
    EMAILS_COUNTED: bool

    def configure(self) -> None:
        """Set up the CRM's client library once at start-up."""

    def adapter(self, portal: Portal) -> CrmAdapter:
        """The adapter speaking to this portal's CRM account."""

    def history_source_labels(self) -> dict[str, str]:
        """A translated label per name of the adapter's history sources (the import's
        progress line)."""

    def event_parse(self, body: str) -> CrmEvent | list[CrmEvent]:
        """The event in a request body (a list, of one account, when the CRM sends several
        entities in one body), pure (no database, no network); InvalidPayload when the body
        is not an event of this CRM."""

    def event_portal(self, event: CrmEvent) -> Portal | None:
        """The installed portal that sent the event, or None."""

    def event_verified(self, portal: Portal, event: CrmEvent) -> bool:
        """Whether the event provably comes from the portal's CRM account."""

    def install_event_confirm(self, portal: Portal, body: str) -> None:
        """A lifecycle install event, confirmed with the CRM before anything in it is
        trusted (InvalidPayload when it cannot be)."""

    def uninstall_event_receive(self, portal: Portal, event: CrmEvent, *, now: datetime) -> None:
        """A lifecycle uninstall event was stored: disable the portal now and have a worker
        ask the CRM whether it is genuine before anything is deleted (inside the caller's
        transaction)."""

    def uninstall_confirm(self, portal: Portal, *, clean: bool, now: datetime) -> bool:
        """Ask the CRM whether the uninstall is real: confirmed (the data goes at its purge
        day) or forged (reverted). CrmError(retryable) when the CRM cannot answer now."""

    def app_open(self, request: HttpRequest) -> AppOpening:
        """Turn the CRM's placement or widget call into who opens the app, confirmed by the
        CRM; AppOpenRefused when it is malformed, not installed or not confirmed."""

    def install(self, request: HttpRequest) -> HttpResponse:
        """The install page the CRM opens in the admin's browser."""

    def card_path(self, entity_type: str, crm_id: int | str) -> str:
        """What the host script's openCard() receives to open a lead's or deal's card."""

    def card_url(self, portal: Portal, entity_type: str, crm_id: int | str) -> str:
        """The full address of a lead's or deal's card in the portal's CRM."""

    def host_scripts(self) -> list[str]:
        """The scripts (URLs) a framed page loads to talk to the CRM page: the CRM's own JS
        API, then ours defining window.crmHost = {init, fit, openCard}."""
