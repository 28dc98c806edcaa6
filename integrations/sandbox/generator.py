"""Deterministic generator of a sandbox Bitrix24 portal (24 months of CRM history).

The same ``seed`` and ``now`` give byte-identical data. Generation is a day-by-day simulation
driven by one ``random.Random(seed)``: every entity is created at its creation time, its whole
life (stage moves, activities, conversion) is decided then, and future rows wait in a time-ordered
heap until the simulation reaches them, so IDs grow with creation time as on a real portal and
memory stays bounded by the entities "in flight", not by the portal size.

Planted cases (see :data:`PLANTED` and the tests): reopened deals (won → reopened → won again,
and won → reopened → still open), pipeline changes (stage history TYPE_ID 5), repeat buyers
(companies with several won deals), idle ("forgotten") open deals and leads, open deals without a
planned activity, won deals with zero amount, deals without contact and company, without source,
open deals with CLOSEDATE in the past, deals owned by fired employees, and a few history gaps
(an entity whose last history row disagrees with its status).

Every other history is chronological and ends in its entity's current stage or status, as a
real portal's is (one row per change).
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import reference
from .schema import (
    ACTIVITY,
    COMPANY,
    CONTACT,
    DEAL,
    DEAL_HISTORY,
    DEAL_UF,
    LEAD,
    LEAD_HISTORY,
    Entity,
)
from .store import BulkWriter, Store
from .timeutil import DAY, format_date, format_ts, weekday

HOUR = 3600.0
HISTORY_DAYS = 730


@dataclass(frozen=True)
class Scale:
    """Volume knobs of one portal size."""

    leads: int
    direct_deals: int
    conversion: float
    companies: int
    contacts: int
    deal_activities: float
    lead_activities: float


SCALES: dict[str, Scale] = {
    "small": Scale(1500, 350, 0.30, 150, 450, 4.0, 0.5),
    "medium": Scale(30000, 4000, 0.20, 2500, 8000, 4.5, 0.2),
    "large": Scale(1_000_000, 700_000, 0.30, 100_000, 300_000, 4.6, 0.4),
}

FIRED_AGO_DAYS = {9: 300, 17: 150, 26: 60, 33: 20}

ACTIVITY_KINDS = (
    # weight, TYPE_ID, PROVIDER_ID, PROVIDER_TYPE_ID, subject
    (45, 2, "VOXIMPLANT_CALL", "CALL", "Звонок"),
    (18, 4, "CRM_EMAIL", "EMAIL", "Письмо клиенту"),
    (10, 1, "CRM_MEETING", "MEETING", "Встреча с клиентом"),
    (5, 3, "TASKS", "TASK", "Задача по сделке"),
    (13, 6, "CRM_TODO", "TODO", "Связаться с клиентом"),
    (5, 6, "TASKS_TASK", "TASKS_TASK", "Подготовить КП"),
    (4, 6, "IMOPENLINES_SESSION", "IMOPENLINES_SESSION", "Чат в открытой линии"),
)
PLANNED_KINDS = (ACTIVITY_KINDS[0], ACTIVITY_KINDS[2], ACTIVITY_KINDS[4], ACTIVITY_KINDS[5])

UTM_SOURCES = ("yandex", "google", "vk", "telegram")
UTM_MEDIUMS = ("cpc", "organic", "social", "email")
UTM_CAMPAIGNS = ("brand", "retarget", "spring_sale", "b2b_leads", "webinar")
UTM_CONTENTS = ("banner_a", "banner_b", "text_1", None)
UTM_TERMS = ("купить оборудование", "поставщик", "цена опт", None)
COMPANY_WORDS = (
    "Альфа Бета Гамма Дельта Омега Север Юг Восток Запад Техно Строй Пром Агро Торг Лайн Сервис "
    "Групп Снаб Маркет Логистик"
).split()
PRODUCTS = ("Поставка оборудования", "Сервисный контракт", "Монтаж", "Лицензии", "Консалтинг")
DEAL_TYPES = ("SALE", "COMPLEX", "GOODS", "SERVICES")


def _activity_columns() -> dict[str, Any]:
    return {
        "PROVIDER_GROUP_ID": None,
        "ASSOCIATED_ENTITY_ID": 0,
        "PRIORITY": 2,
        "NOTIFY_TYPE": 1,
        "NOTIFY_VALUE": 15,
        "DESCRIPTION": "",
        "DESCRIPTION_TYPE": 1,
        "LOCATION": "",
        "SETTINGS": "[]",
        "ORIGINATOR_ID": None,
        "ORIGIN_ID": None,
        "PROVIDER_PARAMS": "[]",
        "PROVIDER_DATA": None,
        "RESULT_MARK": 0,
        "RESULT_VALUE": None,
        "RESULT_SUM": None,
        "RESULT_CURRENCY_ID": None,
        "RESULT_STATUS": 0,
        "RESULT_STREAM": 0,
        "RESULT_SOURCE_ID": None,
        "AUTOCOMPLETE_RULE": 0,
    }


ACTIVITY_DEFAULTS = _activity_columns()


def activity_values(
    *,
    owner_type: int,
    owner_id: int,
    kind: tuple[int, int, str, str, str],
    created: float,
    responsible: int,
    completed: bool,
    deadline: float | None = None,
    direction: int = 0,
    duration: float = 0.0,
    now: float | None = None,
) -> dict[str, Any]:
    """Column values of one activity (without ``ID``) as Bitrix24 stores them."""
    _, type_id, provider_id, provider_type, subject = kind
    start = created if completed else (deadline or created)
    end = start + duration
    is_task = type_id in (3, 6)
    last_updated = end if completed else created
    if now is not None:
        last_updated = min(last_updated, now)
    values = dict(ACTIVITY_DEFAULTS)
    values.update(
        {
            "OWNER_ID": owner_id,
            "OWNER_TYPE_ID": owner_type,
            "TYPE_ID": type_id,
            "PROVIDER_ID": provider_id,
            "PROVIDER_TYPE_ID": provider_type,
            "SUBJECT": subject,
            "CREATED": format_ts(created),
            "LAST_UPDATED": format_ts(max(last_updated, created)),
            "START_TIME": format_ts(start),
            "END_TIME": format_ts(end),
            "DEADLINE": format_ts(end if is_task else start),
            "COMPLETED": "Y" if completed else "N",
            "STATUS": 2 if completed else 1,
            "RESPONSIBLE_ID": responsible,
            "DIRECTION": direction,
            "AUTHOR_ID": responsible,
            "EDITOR_ID": responsible,
        }
    )
    return values


def _row(entity: Entity, values: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(values.get(c) for c in entity.columns)


class _Simulation:
    """State of one generation run."""

    def __init__(self, store: Store, seed: int, scale: Scale, now: float) -> None:
        self.rng = random.Random(seed)
        self.store = store
        self.scale = scale
        self.now = now
        self.start = now - HISTORY_DAYS * DAY
        self.writer = BulkWriter(store)
        self.heap: list[tuple[float, int, str, Any]] = []
        self.seq = 0
        self.ids = {"lead": 0, "deal": 0, "activity": 0, "deal_history": 0, "lead_history": 0}
        self.company_deals: dict[int, int] = {}
        self.stage_index = reference.stage_index()
        self.lead_statuses = reference.lead_status_index()
        self.users: list[dict[str, Any]] = []
        self.sellers: list[int] = []
        self.fired_at: dict[int, float] = {}
        self.skill: dict[int, float] = {}

    # --- helpers --------------------------------------------------------------------------------
    def push(self, when: float, kind: str, payload: Any) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (when, self.seq, kind, payload))

    def next_id(self, name: str) -> int:
        self.ids[name] += 1
        return self.ids[name]

    def work_time(self, day: float) -> float:
        """A moment of a working day: mostly 9:00-19:00."""
        rng = self.rng
        hour = rng.gauss(13.5, 2.6)
        hour = min(max(hour, 7.5), 21.5)
        return day + hour * HOUR + rng.random() * 60

    def seller(self, when: float) -> int:
        """A sales employee who was working at ``when``."""
        for _ in range(20):
            user_id = self.rng.choice(self.sellers)
            if self.fired_at.get(user_id, math.inf) > when + 7 * DAY:
                return user_id
        return 2

    def poisson(self, mean: float) -> int:
        rng = self.rng
        if mean > 30:
            return max(0, round(rng.gauss(mean, math.sqrt(mean))))
        limit, k, p = math.exp(-mean), 0, rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k

    def daily_count(self, total: int, day_index: int, day: float) -> int:
        growth = 0.75 + 0.5 * day_index / HISTORY_DAYS
        week = 0.25 if weekday(day) >= 5 else 1.3
        mean = total / HISTORY_DAYS * growth * week
        return self.poisson(mean)

    # --- reference data -------------------------------------------------------------------------
    def build_reference(self) -> None:
        users = reference.users(self.rng, self.now)
        for user in users:
            user_id = int(user["ID"])
            if user_id in FIRED_AGO_DAYS:
                self.fired_at[user_id] = self.now - FIRED_AGO_DAYS[user_id] * DAY
            if user["UF_DEPARTMENT"][0] in reference.SALES_DEPARTMENTS:
                self.sellers.append(user_id)
                self.skill[user_id] = 0.6 + 0.8 * self.rng.random()
        departments = reference.departments()
        for row in departments:
            row["UF_HEAD"] = str(reference.DEPARTMENT_HEADS[int(row["ID"])])
        self.users = users
        self.store.put_reference("users", users)
        self.store.put_reference("departments", departments)
        self.store.put_reference("categories", reference.categories())
        self.store.put_reference("statuses", reference.statuses())

    def build_companies_and_contacts(self) -> None:
        rng, scale = self.rng, self.scale
        for company_id in range(1, scale.companies + 1):
            created = self.start - rng.randint(1, 400) * DAY + rng.randint(0, 86399)
            title = f"ООО «{rng.choice(COMPANY_WORDS)}{rng.choice(COMPANY_WORDS).lower()}»"
            self.writer.add(
                COMPANY,
                _row(
                    COMPANY,
                    {
                        "ID": company_id,
                        "TITLE": title,
                        "COMPANY_TYPE": "CUSTOMER",
                        "INDUSTRY": rng.choice(("IT", "MANUFACTURING", "DELIVERY", "OTHER")),
                        "REVENUE": 0.0,
                        "CURRENCY_ID": "RUB",
                        "IS_MY_COMPANY": "N",
                        "ASSIGNED_BY_ID": rng.choice(self.sellers),
                        "CREATED_BY_ID": 1,
                        "MODIFY_BY_ID": 1,
                        "DATE_CREATE": format_ts(created),
                        "DATE_MODIFY": format_ts(created),
                        "OPENED": "Y",
                        "SOURCE_ID": None,
                        "LEAD_ID": None,
                    },
                ),
            )
        for contact_id in range(1, scale.contacts + 1):
            created = self.start - rng.randint(1, 400) * DAY + rng.randint(0, 86399)
            company_id = (contact_id - 1) % scale.companies + 1 if contact_id % 4 else None
            female = rng.random() < 0.4
            self.writer.add(
                CONTACT,
                _row(
                    CONTACT,
                    {
                        "ID": contact_id,
                        "NAME": rng.choice(
                            reference.FIRST_NAMES_F if female else reference.FIRST_NAMES_M
                        ),
                        "SECOND_NAME": "",
                        "LAST_NAME": rng.choice(reference.LAST_NAMES) + ("а" if female else ""),
                        "POST": rng.choice(("Директор", "Закупщик", "Инженер", "")),
                        "TYPE_ID": "CLIENT",
                        "COMPANY_ID": company_id,
                        "ASSIGNED_BY_ID": rng.choice(self.sellers),
                        "CREATED_BY_ID": 1,
                        "MODIFY_BY_ID": 1,
                        "DATE_CREATE": format_ts(created),
                        "DATE_MODIFY": format_ts(created),
                        "OPENED": "Y",
                        "SOURCE_ID": None,
                        "LEAD_ID": None,
                    },
                ),
            )

    def pick_company(self) -> int:
        """Zipf-like choice: low company IDs buy again and again (repeat buyers)."""
        return 1 + int(self.scale.companies * self.rng.random() ** 2.6)

    def contact_of(self, company_id: int) -> int:
        """A contact working at ``company_id`` (contacts cycle through companies)."""
        scale = self.scale
        first = company_id
        options = [c for c in range(first, scale.contacts + 1, scale.companies) if c % 4][:3]
        return self.rng.choice(options) if options else first

    def marketing(self) -> dict[str, Any]:
        rng = self.rng
        roll = rng.random()
        if roll < 0.08:
            source = None
        else:
            source = rng.choices(
                [s for s, _ in reference.SOURCES], weights=(14, 9, 22, 16, 6, 8, 3, 12, 6, 4)
            )[0]
        values: dict[str, Any] = {"SOURCE_ID": source}
        if source in ("WEB", "ADVERTISING", "WEBFORM") and rng.random() < 0.85:
            values |= {
                "UTM_SOURCE": rng.choice(UTM_SOURCES),
                "UTM_MEDIUM": rng.choice(UTM_MEDIUMS),
                "UTM_CAMPAIGN": rng.choice(UTM_CAMPAIGNS),
                "UTM_CONTENT": rng.choice(UTM_CONTENTS),
                "UTM_TERM": rng.choice(UTM_TERMS),
            }
        return values

    # --- main loop ------------------------------------------------------------------------------
    def run(self) -> None:
        self.build_reference()
        self.build_companies_and_contacts()
        for day_index in range(HISTORY_DAYS):
            day = self.start + day_index * DAY
            for _ in range(self.daily_count(self.scale.leads, day_index, day)):
                self.push(self.work_time(day), "lead", None)
            for _ in range(self.daily_count(self.scale.direct_deals, day_index, day)):
                self.push(self.work_time(day), "deal", {})
            self.drain(day + DAY)
        self.drain(self.now + 1)
        self.writer.flush()
        self.plant_history_gaps()

    def plant_history_gaps(self) -> None:
        """A few entities whose last status change left no history row, as on portals filled
        by a CSV import or with rows lost years ago: the change happened at the anchor (so no
        past period can read them two ways), and only the entity's own fields tell of it."""
        stamp = format_ts(self.now)
        moved = {"DATE_MODIFY": stamp, "MOVED_TIME": stamp}
        gaps = {name: self.store.query(sql) for name, sql in GAP_CANDIDATES.items()}
        for (lead_id,) in gaps["lead_closed"]:
            junk = self.lead_statuses["JUNK"]
            self.store.update_row(
                LEAD,
                lead_id,
                {"STATUS_ID": "JUNK", "STATUS_SEMANTIC_ID": junk.semantic_id}
                | moved
                | {"DATE_CLOSED": stamp},
            )
        for (lead_id,) in gaps["lead_reopened"]:
            self.store.update_row(
                LEAD,
                lead_id,
                {"STATUS_ID": "IN_PROCESS", "STATUS_SEMANTIC_ID": "P", "DATE_CLOSED": ""} | moved,
            )
        for deal_id, category in gaps["deal_reopened"]:
            stage = [s for s in reference.deal_stages(category) if s.semantics == "process"][-1]
            self.store.update_row(
                DEAL,
                deal_id,
                {"STAGE_ID": stage.status_id, "STAGE_SEMANTIC_ID": "P", "CLOSED": "N"} | moved,
            )

    def drain(self, until: float) -> None:
        handlers: dict[str, Callable[[float, Any], None]] = {
            "lead": self.create_lead,
            "deal": self.create_deal,
            "dh": self.write_deal_history,
            "lh": self.write_lead_history,
            "act": self.write_activity,
        }
        while self.heap and self.heap[0][0] < until:
            when, _, kind, payload = heapq.heappop(self.heap)
            if when >= self.now:
                continue
            handlers[kind](when, payload)

    def write_deal_history(self, when: float, payload: tuple[int, int, int, str, str]) -> None:
        type_id, owner, category, semantic, stage = payload
        row = (
            self.next_id("deal_history"),
            type_id,
            owner,
            format_ts(when),
            category,
            semantic,
            stage,
        )
        self.writer.add(DEAL_HISTORY, row)

    def write_lead_history(self, when: float, payload: tuple[int, int, str, str]) -> None:
        type_id, owner, semantic, status = payload
        row = (self.next_id("lead_history"), type_id, owner, format_ts(when), semantic, status)
        self.writer.add(LEAD_HISTORY, row)

    def write_activity(self, when: float, plan: tuple[Any, ...]) -> None:
        owner_type, owner_id, kind, responsible, completed, deadline, direction, duration = plan
        values = activity_values(
            owner_type=owner_type,
            owner_id=owner_id,
            kind=ACTIVITY_KINDS[kind],
            created=when,
            responsible=responsible,
            completed=completed,
            deadline=deadline,
            direction=direction,
            duration=duration,
            now=self.now,
        )
        values["ID"] = self.next_id("activity")
        self.writer.add(ACTIVITY, _row(ACTIVITY, values))

    # --- activities -----------------------------------------------------------------------------
    def plan_activities(
        self,
        *,
        owner_type: int,
        owner_id: int,
        responsible: int,
        begin: float,
        end: float,
        count: int,
        planned: str | None,
    ) -> float:
        """Schedule ``count`` done activities in ``[begin, end)`` and an optional planned one.

        ``planned`` is ``"future"`` (deadline after now), ``"overdue"`` (deadline passed) or
        ``None``. Returns the latest activity moment not after now (for LAST_ACTIVITY_TIME).
        """
        rng = self.rng
        last = 0.0
        end = min(end, self.now)
        span = max(end - begin, 600.0)
        for _ in range(count):
            created = begin + rng.random() * span
            kind = rng.choices(ACTIVITY_KINDS, weights=[k[0] for k in ACTIVITY_KINDS])[0]
            duration = {2: rng.randint(30, 1200), 1: 3600.0, 4: 0.0}.get(
                kind[1], rng.randint(1, 48) * HOUR
            )
            finish = created + duration
            if finish >= self.now:
                continue
            direction = rng.choice((1, 2)) if kind[1] in (2, 4) else 0
            plan = (owner_type, owner_id, ACTIVITY_KINDS.index(kind), responsible, True, None)
            self.push(created, "act", (*plan, direction, duration))
            last = max(last, finish)
        if planned:
            created = max(begin, end - rng.random() * 5 * DAY)
            if planned == "future":
                deadline = self.now + rng.randint(1, 14) * DAY + rng.randint(9, 18) * HOUR
            else:
                deadline = created + rng.randint(1, 5) * DAY
                if deadline >= self.now:
                    deadline = self.now - HOUR
            kind = rng.choice(PLANNED_KINDS)
            plan = (owner_type, owner_id, ACTIVITY_KINDS.index(kind), responsible, False)
            deadline = max(deadline, created + 600)
            duration = 1800.0 if kind[1] in (1, 2) else 0.0
            self.push(created, "act", (*plan, deadline, 2 if kind[1] == 2 else 0, duration))
            last = max(last, created)
        return last

    # --- leads ----------------------------------------------------------------------------------
    def create_lead(self, created: float, _: Any) -> None:
        rng, scale = self.rng, self.scale
        lead_id = self.next_id("lead")
        assigned = self.seller(created)
        market = self.marketing()
        female = rng.random() < 0.45
        name = rng.choice(reference.FIRST_NAMES_F if female else reference.FIRST_NAMES_M)
        last_name = rng.choice(reference.LAST_NAMES) + ("а" if female else "")
        roll = rng.random()
        forgotten = roll < 0.06
        if forgotten:
            outcome = "open"
        elif roll < 0.06 + scale.conversion:
            outcome = "CONVERTED"
        else:
            outcome = "JUNK" if rng.random() < 0.85 else "open"
        decision = created + min(rng.lognormvariate(math.log(2 * DAY), 1.0), 60 * DAY)
        moves: list[tuple[float, str]] = [(created, "NEW")]
        if not (forgotten and rng.random() < 0.5):
            moves.append((created + rng.uniform(0.3, 20) * HOUR, "IN_PROCESS"))
        # Every move comes after the one before it: a real portal writes a history row per
        # status change, so the history always ends in the lead's current status.
        decision = max(decision, moves[-1][0] + 1200)
        if rng.random() < 0.4 and outcome != "open":
            taken = moves[-1][0]
            moves.append((taken + (decision - taken) * rng.uniform(0.4, 0.9), "PROCESSED"))
        if outcome != "open":
            moves.append((max(decision, moves[-1][0] + 600), outcome))
        moves = [m for m in moves if m[0] < self.now]
        for index, (when, status_id) in enumerate(moves):
            status = self.lead_statuses[status_id]
            type_id = 1 if index == 0 else (3 if status.semantic_id != "P" else 2)
            self.push(when, "lh", (type_id, lead_id, status.semantic_id, status_id))
        last_move, status_id = moves[-1]
        status = self.lead_statuses[status_id]
        closed = status.semantic_id != "P"
        end = (
            last_move if closed else (created + rng.uniform(1, 4) * DAY if forgotten else self.now)
        )
        count = self.poisson(scale.lead_activities * (0.4 if forgotten else 1.0))
        last_activity = self.plan_activities(
            owner_type=1,
            owner_id=lead_id,
            responsible=assigned,
            begin=created,
            end=end,
            count=count,
            planned=None if closed or forgotten else ("future" if rng.random() < 0.6 else None),
        )
        company_id = contact_id = None
        if status_id == "CONVERTED":
            company_id = self.pick_company() if rng.random() < 0.7 else None
            contact_id = (
                self.contact_of(company_id) if company_id else rng.randint(1, scale.contacts)
            )
            self.push(
                last_move + rng.uniform(60, 900),
                "deal",
                {
                    "LEAD_ID": lead_id,
                    "ASSIGNED_BY_ID": assigned,
                    "COMPANY_ID": company_id,
                    "CONTACT_ID": contact_id,
                    **market,
                },
            )
        modify = max(last_move, created)
        digits = (
            rng.randint(10, 99),
            rng.randint(100, 999),
            rng.randint(10, 99),
            rng.randint(10, 99),
        )
        phone = "+7 9{} {}-{}-{}".format(*digits)
        email = f"client{lead_id}@example.ru" if rng.random() < 0.6 else None
        values = {
            "ID": lead_id,
            "TITLE": rng.choice(("Заявка с сайта", "Входящий звонок", "Запрос КП", "Лид"))
            + f" #{lead_id}",
            "NAME": name,
            "LAST_NAME": last_name,
            "COMPANY_ID": company_id,
            "CONTACT_ID": contact_id,
            "IS_RETURN_CUSTOMER": "N",
            "BIRTHDATE": "",
            "STATUS_ID": status_id,
            "CURRENCY_ID": "RUB",
            "OPPORTUNITY": float(rng.randint(0, 40) * 5000),
            "IS_MANUAL_OPPORTUNITY": "N",
            "HAS_PHONE": "Y",
            "HAS_EMAIL": "Y" if email else "N",
            "HAS_IMOL": "N",
            "ASSIGNED_BY_ID": assigned,
            "CREATED_BY_ID": assigned,
            "MODIFY_BY_ID": assigned,
            "DATE_CREATE": format_ts(created),
            "DATE_MODIFY": format_ts(modify),
            "DATE_CLOSED": format_ts(last_move) if closed else "",
            "STATUS_SEMANTIC_ID": status.semantic_id,
            "OPENED": "Y",
            "MOVED_BY_ID": assigned,
            "MOVED_TIME": format_ts(last_move),
            "LAST_ACTIVITY_BY": assigned,
            "LAST_ACTIVITY_TIME": format_ts(max(created, last_activity)),
            "PHONE": phone,
            "EMAIL": email,
            **market,
        }
        self.writer.add(LEAD, _row(LEAD, values))

    # --- deals ----------------------------------------------------------------------------------
    def create_deal(self, created: float, seed_values: dict[str, Any]) -> None:
        rng, scale = self.rng, self.scale
        deal_id = self.next_id("deal")
        values: dict[str, Any] = dict(seed_values)
        assigned = values.setdefault("ASSIGNED_BY_ID", self.seller(created))
        if "SOURCE_ID" not in values:
            values |= self.marketing()
        if "COMPANY_ID" not in values:
            roll = rng.random()
            if roll < 0.05:
                values["COMPANY_ID"], values["CONTACT_ID"] = None, None
            elif roll < 0.25:
                values["COMPANY_ID"], values["CONTACT_ID"] = None, rng.randint(1, scale.contacts)
            else:
                company = self.pick_company()
                values["COMPANY_ID"] = company
                values["CONTACT_ID"] = self.contact_of(company) if rng.random() < 0.8 else None
        company = values["COMPANY_ID"]
        category = rng.choices((0, 1, 2), weights=(70, 20, 10))[0]
        if (
            category == 0
            and company
            and self.company_deals.get(company, 0) > 0
            and rng.random() < 0.5
        ):
            category = 1
        returning = bool(company and self.company_deals.get(company, 0) > 0)
        if company:
            self.company_deals[company] = self.company_deals.get(company, 0) + 1

        moves = self.deal_path(created, category, assigned)
        moves = [m for m in moves if m[0] < self.now]
        for index, (when, type_id, cat, stage) in enumerate(moves):
            self.push(
                when,
                "dh",
                (1 if index == 0 else type_id, deal_id, cat, stage.semantic_id, stage.status_id),
            )
        last_move, _, category, stage = moves[-1]
        semantic = stage.semantic_id
        closed = semantic != "P"

        stalled = not closed and rng.random() < 0.35
        activity_end = last_move if closed else self.now
        if stalled:
            activity_end = min(self.now, last_move + rng.uniform(0, 5) * DAY)
        planned: str | None = None
        if not closed and not stalled:
            planned = rng.choices(("future", "overdue", None), weights=(65, 12, 23))[0]
        last_activity = self.plan_activities(
            owner_type=2,
            owner_id=deal_id,
            responsible=assigned,
            begin=created,
            end=activity_end,
            count=self.poisson(scale.deal_activities * (0.5 if stalled else 1.0)),
            planned=planned,
        )

        amount = rng.lognormvariate(math.log(1_500_000 if category == 2 else 150_000), 0.8)
        amount = round(amount / 100) * 100.0
        if (semantic == "S" and rng.random() < 0.03) or (not closed and rng.random() < 0.05):
            amount = 0.0
        modify = max(last_move, created)
        if rng.random() < 0.3:
            modify = max(modify, min(self.now - 60, modify + rng.uniform(0, 10) * DAY))
        planned_close = created + rng.uniform(7, 60) * DAY
        close_date = last_move if closed else planned_close
        values.update(
            {
                "ID": deal_id,
                "TITLE": (
                    f"Сделка #{deal_id}"
                    if rng.random() < 0.4
                    else f"{rng.choice(PRODUCTS)} #{deal_id}"
                ),
                "TYPE_ID": rng.choice(DEAL_TYPES),
                "STAGE_ID": stage.status_id,
                "PROBABILITY": None,
                "CURRENCY_ID": "RUB",
                "OPPORTUNITY": amount,
                "IS_MANUAL_OPPORTUNITY": "N",
                "TAX_VALUE": 0.0,
                "COMPANY_ID": company or 0,
                "QUOTE_ID": None,
                "BEGINDATE": format_date(created),
                "CLOSEDATE": format_date(close_date),
                "CREATED_BY_ID": assigned,
                "MODIFY_BY_ID": assigned,
                "DATE_CREATE": format_ts(created),
                "DATE_MODIFY": format_ts(modify),
                "OPENED": "Y",
                "CLOSED": "Y" if closed else "N",
                "COMMENTS": None,
                "ADDITIONAL_INFO": None,
                "LOCATION_ID": None,
                "CATEGORY_ID": category,
                "STAGE_SEMANTIC_ID": semantic,
                "IS_NEW": "Y" if len(moves) == 1 and not closed else "N",
                "IS_RECURRING": "N",
                "IS_RETURN_CUSTOMER": "Y" if returning else "N",
                "IS_REPEATED_APPROACH": "N",
                "SOURCE_DESCRIPTION": None,
                "ORIGINATOR_ID": None,
                "ORIGIN_ID": None,
                "MOVED_BY_ID": assigned,
                "MOVED_TIME": format_ts(last_move),
                "LAST_ACTIVITY_TIME": format_ts(max(created, last_activity)),
                "LAST_ACTIVITY_BY": assigned,
                DEAL_UF: rng.choice(("Опт", "Розница", None)),
            }
        )
        self.writer.add(DEAL, _row(DEAL, values))

    def deal_path(
        self, created: float, category: int, assigned: int
    ) -> list[tuple[float, int, int, reference.Stage]]:
        """Stage moves of one deal: ``(time, TYPE_ID, category, stage)``, creation first."""
        rng = self.rng
        stages = reference.deal_stages(category)
        process = [s for s in stages if s.semantics == "process"]
        won = next(s for s in stages if s.semantics == "success")
        lose = [s for s in stages if s.semantics in ("failure", "apology")]
        moves: list[tuple[float, int, int, reference.Stage]] = [(created, 1, category, process[0])]
        now_cat = category
        when = created
        if category == 0 and rng.random() < 0.04:
            when += rng.uniform(0.5, 48) * HOUR
            now_cat = 1
            stages = reference.deal_stages(1)
            process = [s for s in stages if s.semantics == "process"]
            won = next(s for s in stages if s.semantics == "success")
            lose = [s for s in stages if s.semantics in ("failure", "apology")]
            moves.append((when, 5, 1, process[0]))
        median = 25 * DAY if now_cat == 2 else 12 * DAY
        duration = min(rng.lognormvariate(math.log(median), 0.9), 200 * DAY)
        skill = self.skill.get(assigned, 1.0)
        roll = rng.random()
        outcome = "stuck" if roll < 0.08 else ("won" if roll < 0.08 + 0.42 * skill else "lost")
        steps = rng.randint(0, len(process) - 1)
        position = 0
        checkpoints = sorted(rng.random() for _ in range(steps + 1))
        for fraction in checkpoints[:-1]:
            target = min(position + rng.randint(1, 2), len(process) - 1)
            if position > 1 and rng.random() < 0.12:
                target = position - 1
            if target == position:
                continue
            position = target
            moves.append((when + duration * fraction, 2, now_cat, process[position]))
        close_at = when + duration
        if outcome == "won":
            moves.append((close_at, 3, now_cat, won))
            if rng.random() < 0.08:
                reopen = close_at + rng.uniform(1, 20) * DAY
                moves.append((reopen, 2, now_cat, process[max(1, len(process) - 2)]))
                if rng.random() < 0.6:
                    moves.append((reopen + rng.uniform(2, 30) * DAY, 3, now_cat, won))
        elif outcome == "lost":
            moves.append((close_at, 3, now_cat, rng.choices(lose, weights=(80, 20))[0]))
        return moves


def generate(store: Store, *, seed: int, scale: str, now: float) -> dict[str, int]:
    """Fill an empty ``store`` with a portal for ``seed``/``scale`` anchored at ``now``.

    Returns row counts per entity. Deterministic: the same arguments give identical rows.
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    store.create_schema()
    simulation = _Simulation(store, seed, SCALES[scale], now)
    simulation.run()
    store.create_indexes()
    counts = {name: store.count(entity) for name, entity in _COUNTED.items()}
    store.set_meta(
        "generation",
        {"seed": seed, "scale": scale, "now": now, "counts": counts, "complete": True},
    )
    store.set_meta("fired_at", {str(k): v for k, v in simulation.fired_at.items()})
    return counts


_COUNTED = {
    "deals": DEAL,
    "leads": LEAD,
    "activities": ACTIVITY,
    "companies": COMPANY,
    "contacts": CONTACT,
    "deal_history": DEAL_HISTORY,
    "lead_history": LEAD_HISTORY,
}

# The entities of the planted history gaps, picked by what they are (never by id).
GAP_CANDIDATES = {
    "lead_closed": "SELECT ID FROM leads WHERE STATUS_ID = 'IN_PROCESS' ORDER BY ID LIMIT 2",
    "lead_reopened": "SELECT ID FROM leads WHERE STATUS_ID = 'JUNK' ORDER BY ID LIMIT 1",
    "deal_reopened": (
        "SELECT ID, CATEGORY_ID FROM deals WHERE STAGE_SEMANTIC_ID = 'S' ORDER BY ID LIMIT 2"
    ),
}

PLANTED: dict[str, str] = {
    "reopened": "deal_history rows TYPE_ID 2 after a TYPE_ID 3 move to a success stage",
    "pipeline_change": "deal_history rows with TYPE_ID 5",
    "repeat_buyers": "companies with two or more won deals",
    "forgotten": "open deals whose LAST_ACTIVITY_TIME is weeks before now",
    "no_next_step": "open deals without an activity with COMPLETED N",
    "zero_amount_won": "won deals with OPPORTUNITY 0.00",
    "no_client": "deals with COMPANY_ID 0 and CONTACT_ID null",
    "no_source": "deals with SOURCE_ID null",
    "overdue_close": "open deals with CLOSEDATE before now",
    "fired_owner": "deals assigned to users with ACTIVE false",
    "history_gap": (
        "leads and deals whose last history row disagrees with their status (closed or reopened "
        "with no row, DATE_MODIFY = MOVED_TIME = the anchor): two leads junk now after an open "
        "last row, one lead in work after a junk last row, two deals reopened after a win"
    ),
}
