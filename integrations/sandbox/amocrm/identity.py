"""Who the sandbox account is and how the simulation's ids become amoCRM's.

amoCRM ids are large integers in one sequence per entity kind; the fake keeps them apart from the
Bitrix24 fake's (an adapter that mixes the two up fails), by fixed offsets so a test can map one
CRM's entity to the other's. Pipelines are the simulation's categories, each with amoCRM's
incoming stage (``type: 1``) first and the shared 142 (won) / 143 (lost) last.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from .. import reference

USER_BASE = 7_000_000
GROUP_BASE = 300_000
PIPELINE_BASE = 7_700_000
STATUS_BASE = 70_000_000
LEAD_BASE = 20_000_000
CONTACT_BASE = 30_000_000
COMPANY_BASE = 40_000_000
TASK_BASE = 50_000_000
NOTE_BASE = 60_000_000
LOSS_REASON_BASE = 80_000_000
SOURCE_BASE = 90_000

WON = 142
LOST = 143
INCOMING_NAME = "Неразобранное"

#: Task types of the account: 1 and 2 are amoCRM's own, 3 is a custom one ("other").
TASK_TYPES = (
    {"id": 1, "name": "Связаться", "color": None, "icon_id": None, "code": "FOLLOW_UP"},
    {"id": 2, "name": "Встреча", "color": None, "icon_id": None, "code": "MEETING"},
    {"id": 3, "name": "Задача", "color": "#ffeab2", "icon_id": 6, "code": None},
)
LOSS_REASONS = (
    "Дорого",
    "Выбрали конкурента",
    "Пропала потребность",
    "Не дозвонились",
    "Нет бюджета",
)
#: The default group (id 0) holds the director and whoever has no sales group.
DEFAULT_GROUP = "Отдел продаж"
UTM_FIELDS = (
    # field_id, field_name, field_code (tracking_data fields every account has)
    (24807, "utm_source", "UTM_SOURCE"),
    (24803, "utm_medium", "UTM_MEDIUM"),
    (24805, "utm_campaign", "UTM_CAMPAIGN"),
    (24801, "utm_content", "UTM_CONTENT"),
    (24809, "utm_term", "UTM_TERM"),
)


@dataclass(frozen=True)
class AccountIdentity:
    """The account one sandbox server plays, and our integration registered in it."""

    seed: int
    account_id: int
    subdomain: str
    client_id: str
    client_secret: str


def identity_for_seed(seed: int) -> AccountIdentity:
    """Deterministic account id, subdomain and integration credentials for a seed."""
    digest = hashlib.sha256(f"sandbox-amocrm-{seed}".encode()).hexdigest()
    client_id = "-".join(
        (digest[:8], digest[8:12], "4" + digest[13:16], "a" + digest[17:20], digest[20:32])
    )
    return AccountIdentity(
        seed=seed,
        account_id=30_000_000 + int(digest[32:40], 16) % 1_000_000,
        subdomain=f"vector{seed}",
        client_id=client_id,
        client_secret=digest[:64],
    )


def user_id(sim_user: Any) -> int | None:
    """amoCRM user id of a simulation user id (``None`` stays ``None``; 0 is a robot)."""
    if sim_user in (None, ""):
        return None
    return USER_BASE + int(sim_user)


def group_of(department: int) -> int:
    """The user group of a simulation department: the sales and marketing departments are groups,
    the company's root department is the default group 0."""
    return 0 if department == 1 else GROUP_BASE + department


def groups() -> list[dict[str, Any]]:
    """``account._embedded.users_groups``."""
    rows = [{"id": 0, "name": DEFAULT_GROUP, "uuid": None}]
    for dep_id, name, _parent, _sort in reference.DEPARTMENTS:
        if dep_id != 1:
            rows.append({"id": group_of(dep_id), "name": name, "uuid": None})
    return rows


def pipeline_id(category: int) -> int:
    """Pipeline id of a simulation category."""
    return PIPELINE_BASE + category


@dataclass(frozen=True)
class Status:
    """One amoCRM stage: its id, pipeline, and the simulation stage it stands for."""

    id: int
    pipeline_id: int
    name: str
    sort: int
    color: str
    type: int
    sim_stage: str | None


def statuses(category: int) -> list[Status]:
    """Stages of a pipeline in order: incoming, the open stages, 142, 143."""
    pipe = pipeline_id(category)
    rows = [
        Status(STATUS_BASE + category * 100, pipe, INCOMING_NAME, 10, "#c1c1c1", 1, None),
    ]
    for position, stage in enumerate(reference.deal_stages(category), start=1):
        if stage.semantics == "process":
            rows.append(
                Status(
                    STATUS_BASE + category * 100 + position,
                    pipe,
                    stage.name,
                    10 + position * 10,
                    stage.color.lower(),
                    0,
                    stage.status_id,
                )
            )
    rows.append(Status(WON, pipe, "Успешно реализовано", 10000, "#ccff66", 0, None))
    rows.append(Status(LOST, pipe, "Закрыто и не реализовано", 11000, "#d5d8db", 0, None))
    return rows


def stage_map() -> dict[str, tuple[int, int]]:
    """Simulation deal stage id → (pipeline_id, status_id); won → 142, lost and apology → 143."""
    mapping: dict[str, tuple[int, int]] = {}
    for category, _name, _sort in reference.CATEGORIES:
        pipe = pipeline_id(category)
        by_stage = {s.sim_stage: s.id for s in statuses(category) if s.sim_stage}
        for stage in reference.deal_stages(category):
            if stage.semantics == "success":
                mapping[stage.status_id] = (pipe, WON)
            elif stage.semantics in ("failure", "apology"):
                mapping[stage.status_id] = (pipe, LOST)
            else:
                mapping[stage.status_id] = (pipe, by_stage[stage.status_id])
    return mapping


def incoming(category: int = 0) -> tuple[int, int]:
    """(pipeline_id, status_id) of a pipeline's incoming stage: where the simulation's leads sit."""
    return pipeline_id(category), STATUS_BASE + category * 100


def sources() -> list[dict[str, Any]]:
    """The account's sources, one per simulation source."""
    return [
        {
            "id": SOURCE_BASE + position,
            "name": name,
            "pipeline_id": pipeline_id(0),
            "external_id": code.lower(),
            "default": position == 1,
            "origin_code": None,
            "services": [],
        }
        for position, (code, name) in enumerate(reference.SOURCES, start=1)
    ]


def source_map() -> dict[str, int]:
    """Simulation SOURCE_ID → amoCRM source id."""
    return {code: SOURCE_BASE + i for i, (code, _name) in enumerate(reference.SOURCES, start=1)}
