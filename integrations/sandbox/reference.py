"""Reference data of a sandbox portal: departments, employees, pipelines, stages, sources."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from .timeutil import DAY, day_start, format_ts

FIRST_NAMES_M = (
    "Алексей Дмитрий Сергей Андрей Михаил Иван Павел Николай Артём Егор Кирилл Максим Роман "
    "Виктор Олег"
).split()
FIRST_NAMES_F = "Анна Мария Екатерина Ольга Наталья Елена Татьяна Ирина Юлия Светлана Дарья".split()
LAST_NAMES = (
    "Иванов Смирнов Кузнецов Попов Васильев Петров Соколов Михайлов Новиков Фёдоров Морозов "
    "Волков Алексеев Лебедев Семёнов Егоров Павлов Козлов Степанов Николаев Орлов Андреев Макаров "
    "Никитин Захаров Зайцев Соловьёв Борисов Яковлев Григорьев"
).split()

DEPARTMENTS = (
    # ID, NAME, PARENT, SORT
    (1, "ООО «Вектор»", None, 500),
    (2, "Отдел продаж Москва", 1, 500),
    (3, "Отдел продаж Санкт-Петербург", 1, 510),
    (4, "Отдел ключевых клиентов", 1, 520),
    (5, "Отдел маркетинга", 1, 530),
)
SALES_DEPARTMENTS = (2, 3, 4)


@dataclass(frozen=True)
class Stage:
    """A deal stage or lead status with its semantics."""

    status_id: str
    name: str
    semantics: str  # process | success | failure | apology
    color: str

    @property
    def semantic_id(self) -> str:
        """Bitrix24 STAGE_SEMANTIC_ID: P in progress, S success, F failure."""
        return {"success": "S", "failure": "F", "apology": "F"}.get(self.semantics, "P")


CATEGORIES = (
    # id, name, sort
    (0, "Продажи", 100),
    (1, "Повторные продажи", 200),
    (2, "Тендеры", 300),
)

_STAGES: dict[int, tuple[tuple[str, str, str, str], ...]] = {
    0: (
        ("NEW", "Новая", "process", "#39A8EF"),
        ("PREPARATION", "Подготовка документов", "process", "#2FC6F6"),
        ("PREPAYMENT_INVOICE", "Счёт на предоплату", "process", "#55D0E0"),
        ("EXECUTING", "В работе", "process", "#47E4C2"),
        ("FINAL_INVOICE", "Финальный счёт", "process", "#FFA900"),
        ("WON", "Сделка успешна", "success", "#7BD500"),
        ("LOSE", "Сделка провалена", "failure", "#FF5752"),
        ("APOLOGY", "Анализ причины провала", "apology", "#FF5752"),
    ),
    1: (
        ("NEW", "Новая", "process", "#39A8EF"),
        ("PREPARATION", "Согласование", "process", "#2FC6F6"),
        ("EXECUTING", "Отгрузка", "process", "#47E4C2"),
        ("WON", "Сделка успешна", "success", "#7BD500"),
        ("LOSE", "Сделка провалена", "failure", "#FF5752"),
        ("APOLOGY", "Анализ причины провала", "apology", "#FF5752"),
    ),
    2: (
        ("NEW", "Новая", "process", "#39A8EF"),
        ("PREPARATION", "Изучение документации", "process", "#2FC6F6"),
        ("UC_TENDER1", "Подача заявки", "process", "#55D0E0"),
        ("EXECUTING", "Рассмотрение заявки", "process", "#47E4C2"),
        ("UC_TENDER2", "Переторжка", "process", "#FFA900"),
        ("FINAL_INVOICE", "Подписание контракта", "process", "#FFA900"),
        ("WON", "Сделка успешна", "success", "#7BD500"),
        ("LOSE", "Сделка провалена", "failure", "#FF5752"),
        ("APOLOGY", "Анализ причины провала", "apology", "#FF5752"),
    ),
}

LEAD_STATUSES = (
    Stage("NEW", "Не обработан", "process", "#39A8EF"),
    Stage("IN_PROCESS", "В работе", "process", "#2FC6F6"),
    Stage("PROCESSED", "Обработан", "process", "#55D0E0"),
    Stage("CONVERTED", "Качественный лид", "success", "#7BD500"),
    Stage("JUNK", "Некачественный лид", "failure", "#FF5752"),
)

SOURCES = (
    ("CALL", "Звонок"),
    ("EMAIL", "Электронная почта"),
    ("WEB", "Веб-сайт"),
    ("ADVERTISING", "Реклама"),
    ("PARTNER", "Существующий клиент"),
    ("RECOMMENDATION", "По рекомендации"),
    ("TRADE_SHOW", "Выставка"),
    ("WEBFORM", "CRM-форма"),
    ("CALLBACK", "Обратный звонок"),
    ("OTHER", "Другое"),
)


def stage_prefix(category_id: int) -> str:
    """Prefix of stage ids in ``category_id`` (``""`` for the default pipeline, ``C1:`` else)."""
    return "" if category_id == 0 else f"C{category_id}:"


def deal_stages(category_id: int) -> tuple[Stage, ...]:
    """Stages of one pipeline in order, with full stage ids."""
    prefix = stage_prefix(category_id)
    return tuple(
        Stage(prefix + sid, name, sem, color) for sid, name, sem, color in _STAGES[category_id]
    )


def stage_index() -> dict[str, tuple[int, Stage]]:
    """Map every deal stage id to ``(category_id, stage)``."""
    return {stage.status_id: (cat, stage) for cat, _, _ in CATEGORIES for stage in deal_stages(cat)}


def lead_status_index() -> dict[str, Stage]:
    """Map lead status id to its :class:`Stage`."""
    return {status.status_id: status for status in LEAD_STATUSES}


def departments() -> list[dict[str, Any]]:
    """``department.get`` rows (UF_HEAD filled after users exist)."""
    rows = []
    for dep_id, name, parent, sort in DEPARTMENTS:
        row: dict[str, Any] = {"ID": str(dep_id), "NAME": name, "SORT": sort}
        if parent is not None:
            row["PARENT"] = str(parent)
        rows.append(row)
    return rows


def users(rng: random.Random, anchor: float) -> list[dict[str, Any]]:
    """40 employees in the departments; user 1 (the director) is the portal administrator.

    Users 9, 17, 26 and 33 are fired (``ACTIVE`` false); 2-4 head the sales departments.
    """
    rows = []
    plan = [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5)]
    for user_id in range(6, 41):
        plan.append((user_id, SALES_DEPARTMENTS[(user_id - 6) % 3] if user_id < 37 else 5))
    fired = {9, 17, 26, 33}
    for user_id, dep in plan:
        female = rng.random() < 0.45
        first = rng.choice(FIRST_NAMES_F if female else FIRST_NAMES_M)
        last = rng.choice(LAST_NAMES) + ("а" if female else "")
        registered = anchor - (800 + rng.randint(0, 900)) * DAY
        rows.append(
            {
                "ID": str(user_id),
                "ACTIVE": user_id not in fired,
                "NAME": first,
                "LAST_NAME": last,
                "SECOND_NAME": "",
                "EMAIL": f"user{user_id}@vector-sandbox.ru",
                "LAST_LOGIN": format_ts(anchor - rng.randint(1, 400) * 3600),
                "DATE_REGISTER": format_ts(day_start(registered)),
                "TIME_ZONE": "",
                "IS_ONLINE": "N",
                "TIMESTAMP_X": {},
                "LAST_ACTIVITY_DATE": {},
                "PERSONAL_GENDER": "F" if female else "M",
                "PERSONAL_WWW": "",
                "PERSONAL_BIRTHDAY": "",
                "PERSONAL_MOBILE": "",
                "PERSONAL_CITY": "Москва",
                "WORK_PHONE": "",
                "WORK_POSITION": _position(user_id, dep),
                "UF_EMPLOYMENT_DATE": "",
                "UF_DEPARTMENT": [dep],
                "USER_TYPE": "employee",
            }
        )
    return rows


def _position(user_id: int, dep: int) -> str:
    if user_id == 1:
        return "Генеральный директор"
    if user_id <= 4:
        return "Руководитель отдела продаж"
    if dep == 5:
        return "Маркетолог"
    return "Менеджер по продажам"


ADMIN_IDS = frozenset({1})
DEPARTMENT_HEADS = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5}


def categories() -> list[dict[str, Any]]:
    """``crm.category.list`` rows (entityTypeId 2)."""
    rows = []
    for cat_id, name, sort in CATEGORIES:
        row: dict[str, Any] = {
            "id": cat_id,
            "name": name,
            "sort": sort,
            "entityTypeId": 2,
            "isDefault": "Y" if cat_id == 0 else "N",
        }
        if cat_id:
            row |= {"originId": "", "originatorId": ""}
        rows.append(row)
    return rows


def statuses() -> list[dict[str, Any]]:
    """``crm.status.list`` rows for deal stages, lead statuses and sources."""
    rows: list[dict[str, Any]] = []
    next_id = 101

    def add(entity_id: str, category: int | None, stage: Stage, sort: int, system: bool) -> None:
        nonlocal next_id
        semantics = {"success": "S", "failure": "F", "apology": "F"}.get(stage.semantics)
        rows.append(
            {
                "ID": str(next_id),
                "ENTITY_ID": entity_id,
                "STATUS_ID": stage.status_id,
                "NAME": stage.name,
                "NAME_INIT": stage.name if system else "",
                "SORT": str(sort),
                "SYSTEM": "Y" if system else "N",
                "CATEGORY_ID": None if category is None else str(category),
                "COLOR": stage.color,
                "SEMANTICS": semantics,
                "EXTRA": {"SEMANTICS": stage.semantics, "COLOR": stage.color},
            }
        )
        next_id += 2

    for cat_id, _, _ in CATEGORIES:
        entity_id = "DEAL_STAGE" if cat_id == 0 else f"DEAL_STAGE_{cat_id}"
        for pos, stage in enumerate(deal_stages(cat_id), start=1):
            system = stage.semantics in ("success", "failure") or pos == 1
            add(entity_id, None if cat_id == 0 else cat_id, stage, pos * 10, system)
    for pos, status in enumerate(LEAD_STATUSES, start=1):
        add("STATUS", None, status, pos * 10, status.status_id in ("NEW", "CONVERTED", "JUNK"))
    for pos, (source_id, name) in enumerate(SOURCES, start=1):
        rows.append(
            {
                "ID": str(next_id),
                "ENTITY_ID": "SOURCE",
                "STATUS_ID": source_id,
                "NAME": name,
                "NAME_INIT": name,
                "SORT": str(pos * 10),
                "SYSTEM": "Y",
                "CATEGORY_ID": None,
                "COLOR": None,
                "SEMANTICS": None,
            }
        )
        next_id += 2
    return rows
