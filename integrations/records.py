"""Neutral records: what every CRM adapter returns, whatever the CRM's own JSON looks like."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class DepartmentRecord:
    crm_id: int
    name: str
    sort: int = 500
    parent_crm_id: int | None = None
    head_crm_id: int | None = None


@dataclass(frozen=True, slots=True)
class EmployeeRecord:
    crm_id: int
    name: str
    email: str = ""
    active: bool = True
    department_crm_id: int | None = None


@dataclass(frozen=True, slots=True)
class PipelineRecord:
    crm_id: int
    name: str
    sort: int = 500
    is_default: bool = False


@dataclass(frozen=True, slots=True)
class StageRecord:
    entity_type: str  # "deal" | "lead"
    crm_id: str
    name: str
    semantic: str  # "open" | "won" | "lost"
    sort: int = 500
    pipeline_crm_id: int | None = None
    color: str = ""


@dataclass(frozen=True, slots=True)
class SourceRecord:
    crm_id: str
    name: str


@dataclass(frozen=True)
class Directory:
    """Who and what the CRM's numbers are about: people, teams, pipelines and their stages."""

    departments: list[DepartmentRecord]
    employees: list[EmployeeRecord]
    pipelines: list[PipelineRecord]
    stages: list[StageRecord]
    sources: list[SourceRecord]


@dataclass(frozen=True, slots=True)
class Utm:
    source: str = ""
    medium: str = ""
    campaign: str = ""
    content: str = ""
    term: str = ""


@dataclass(frozen=True, slots=True)
class LeadRecord:
    crm_id: int
    title: str
    status_crm_id: str
    semantic: str
    responsible_crm_id: int | None
    source: str
    amount: Decimal
    currency: str
    created_at: datetime
    modified_at: datetime
    closed_at: datetime | None = None
    moved_at: datetime | None = None
    utm: Utm = Utm()


@dataclass(frozen=True, slots=True)
class DealRecord:
    crm_id: int
    title: str
    pipeline_crm_id: int
    stage_crm_id: str
    semantic: str
    amount: Decimal
    currency: str
    responsible_crm_id: int | None
    company_crm_id: int | None
    contact_crm_id: int | None
    lead_crm_id: int | None
    source: str
    created_at: datetime
    modified_at: datetime
    close_date: datetime | None = None
    moved_at: datetime | None = None
    utm: Utm = Utm()


@dataclass(frozen=True, slots=True)
class ActivityRecord:
    crm_id: int
    kind: str  # call | meeting | email | task | other
    subject: str
    responsible_crm_id: int | None
    owner_type: str  # lead | deal | contact | company
    owner_crm_id: int
    created_at: datetime
    deadline: datetime | None
    completed: bool
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class StageChangeRecord:
    crm_id: str
    entity_type: str  # lead | deal
    owner_crm_id: int
    kind: int  # 1 created, 2 moved, 3 closed, 5 pipeline changed
    pipeline_crm_id: int | None
    stage_crm_id: str
    semantic: str
    changed_at: datetime


@dataclass(frozen=True, slots=True)
class PaidStateRecord:
    """What the CRM says the account pays for: a subscription tier (None: unpaid) and the
    days it has left (None: no end given)."""

    tier: str | None
    days_left: int | None = None


@dataclass(frozen=True)
class HistorySource:
    """One stream of history an import walks in CRM-id order.

    `stream(after_id)` yields the records with ids above `after_id`, lazily; `count` is
    whatever the adapter's own estimates() counts them with (opaque to everyone else).
    """

    name: str
    entity_type: str  # lead | deal | activity | lead_history | deal_history
    stream: Callable[[int], Iterator]
    count: object


@dataclass(frozen=True, slots=True)
class NoticeLine:
    """One line of a notification, plain: text, optionally after a link to a CRM card.
    The adapter writes it in the CRM's own markup."""

    text: str
    link_url: str = ""
    link_text: str = ""
