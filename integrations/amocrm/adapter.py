"""amoCRM behind the CRM-neutral adapter interface (records in, records out).

Every call goes through AmoClient (rate limit, token refresh, error mapping). amoCRM lists
have no totals and no "id above" filter, so a stream resumed after `after_id` re-reads its
listing from the start and hands out only what lies beyond; status-change events, which no
documented order governs, are read a week at a time and sorted by id (their ids grow with
time). amoCRM's leads are our deals and, read a second time, our leads (REPORTS.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, time, timedelta
from itertools import batched
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_lazy

from crmapp.models import Portal
from integrations.amocrm import normalize
from integrations.amocrm.client import AmoClient
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

LEADS = "/api/v4/leads"
TASKS = "/api/v4/tasks"
NOTES = "/api/v4/leads/notes"
EVENTS = "/api/v4/events"
LEAD_WITH = ("with", "contacts,source_id")
BY_ID = ("order[id]", "asc")
CALL_NOTES = [("filter[note_type][]", kind) for kind in normalize.CALL_NOTE_TYPES]
STATUS_CHANGED = "lead_status_changed"
LEAD_ADDED = "lead_added"
PAGE = 250  # amoCRM's largest page
EVENTS_PAGE = 100  # …and the events list's
IDS_PER_EVENT_FILTER = 10  # filter[entity_id][] takes at most ten ids
EVENTS_WINDOW = timedelta(days=7)
CARD_LINK = re.compile(r"/leads/detail/(\d+)")

Params = list[tuple[str, object]]


def _ts(value: datetime) -> int:
    return int(value.timestamp())


def _ids(name: str, ids: Iterable[int]) -> Params:
    return [(f"filter[{name}][]", i) for i in ids]


class AmoCRMAdapter:
    kind = Portal.Kind.AMOCRM

    def __init__(self, portal: Portal, client: AmoClient | None = None) -> None:
        self.portal = portal
        self.client = client or AmoClient(portal)
        self._account: dict | None = None
        self._pipelines: list[dict] | None = None
        self._current: tuple[frozenset[int], tuple] | None = None

    # -- account facts, read once per adapter ----------------------------------------------

    def account(self) -> dict:
        if self._account is None:
            self._account = self.client.get("/api/v4/account", {"with": "users_groups"}) or {}
        return self._account

    def currency(self) -> str:
        """The account's currency (amoCRM keeps one per account), else the portal's."""
        return str(self.account().get("currency") or self.portal.currency or "")

    def pipelines(self) -> list[dict]:
        if self._pipelines is None:
            body = self.client.get("/api/v4/leads/pipelines") or {}
            self._pipelines = (body.get("_embedded") or {}).get("pipelines") or []
        return self._pipelines

    def first_statuses(self) -> dict[int, int | None]:
        return {int(p["id"]): normalize.first_status(p) for p in self.pipelines()}

    def _deal(self, row: dict) -> DealRecord:
        return normalize.deal_from_amo(row, currency=self.currency())

    def _lead(self, row: dict) -> LeadRecord:
        first = self.first_statuses().get(int(row["pipeline_id"]))
        return normalize.lead_from_amo(row, first_status_id=first, currency=self.currency())

    # -- directory --------------------------------------------------------------------------

    def directory(self) -> Directory:
        """Users (fired ones too: they still own leads), their groups as departments,
        pipelines with their stages, the four neutral lead statuses, and our sources."""
        users = list(self.client.pages("/api/v4/users", None, "users"))
        groups = (self.account().get("_embedded") or {}).get("users_groups") or []
        sources = self.client.get("/api/v4/sources") or {}
        pipelines = self.pipelines()
        return Directory(
            departments=normalize.departments_from_amo(groups, users),
            employees=[normalize.employee_from_amo(row) for row in users],
            pipelines=[normalize.pipeline_from_amo(row) for row in pipelines],
            stages=[stage for p in pipelines for stage in normalize.stages_from_amo(p)]
            + normalize.lead_stages(),
            sources=normalize.sources_from_amo(
                (sources.get("_embedded") or {}).get("sources") or []
            ),
        )

    # -- streams in id order (import) --------------------------------------------------------

    def _beyond(
        self, path: str, params: Params, key: str, after_id: int, parse: Callable, crm_id=None
    ) -> Iterator:
        """Parsed rows of a listing in id order whose (our) id lies above `after_id`."""
        crm_id = crm_id or (lambda row: int(row["id"]))
        for row in self.client.pages(path, [*params, BY_ID], key):
            if crm_id(row) > after_id:
                yield parse(row)

    def _open_statuses(self) -> Params:
        pairs = [
            (int(p["id"]), int(s["id"]))
            for p in self.pipelines()
            for s in (p.get("_embedded") or {}).get("statuses") or []
            if int(s["id"]) not in normalize.SEMANTIC
        ]
        params: Params = []
        for i, (pipeline, status) in enumerate(pairs):
            params += [(f"filter[statuses][{i}][pipeline_id]", pipeline),
                       (f"filter[statuses][{i}][status_id]", status)]  # fmt: skip
        return params

    def history_sources(self, since: datetime) -> list[HistorySource]:
        """Changed since the window start: every lead (as deal and as lead), task, call and
        status change. Older but still open: leads and planned tasks (they are "in work" and
        can be forgotten today however long ago they were touched)."""
        t = _ts(since)
        changed: Params = [("filter[updated_at][from]", t), LEAD_WITH]
        older_open: Params = [("filter[updated_at][to]", t - 1), LEAD_WITH, *self._open_statuses()]
        tasks_changed: Params = [("filter[updated_at][from]", t)]
        tasks_open: Params = [("filter[updated_at][to]", t - 1), ("filter[is_completed]", 0)]
        calls: Params = [("filter[updated_at][from]", t), *CALL_NOTES]
        task_id = lambda row: normalize.activity_crm_id("task", row["id"])  # noqa: E731
        note_id = lambda row: normalize.activity_crm_id("note", row["id"])  # noqa: E731

        def listing(name, entity_type, path, params, key, parse, crm_id=None):
            return HistorySource(
                name=name,
                entity_type=entity_type,
                stream=lambda after_id: self._beyond(path, params, key, after_id, parse, crm_id),
                count=(path, params, key, PAGE),
            )

        history_params: Params = [
            ("filter[entity][]", "lead"),
            ("filter[type][]", LEAD_ADDED),
            ("filter[type][]", STATUS_CHANGED),
        ]
        return [
            listing("leads", "lead", LEADS, changed, "leads", self._lead),
            listing("open_leads", "lead", LEADS, older_open, "leads", self._lead),
            listing("deals", "deal", LEADS, changed, "leads", self._deal),
            listing("open_deals", "deal", LEADS, older_open, "leads", self._deal),
            HistorySource(
                name="activities",
                entity_type="activity",
                stream=lambda after_id: self._tasks_beyond(tasks_changed, after_id, since),
                count=(TASKS, tasks_changed, "tasks", PAGE),
            ),
            listing("planned_activities", "activity", TASKS, tasks_open, "tasks",
                    normalize.activity_from_task, task_id),
            listing("calls", "activity", NOTES, calls, "notes",
                    normalize.activity_from_call_note, note_id),
            HistorySource(
                name="deal_history",
                entity_type="deal_history",
                stream=lambda after_id: self._history_beyond(since, after_id),
                count=(EVENTS, [*history_params, ("filter[created_at][from]", t)], "events",
                       EVENTS_PAGE),
            ),
        ]  # fmt: skip

    def _tasks_beyond(self, params: Params, after_id: int, since: datetime) -> Iterator:
        """Tasks changed in the window; a completed one happens at its task_completed event
        (read for the whole window once, the few older completions asked for by id)."""
        completions = self._completions([("filter[created_at][from]", _ts(since))])
        for page in batched(self.client.pages(TASKS, [*params, BY_ID], "tasks"), PAGE):
            rows = [r for r in page if normalize.activity_crm_id("task", r["id"]) > after_id]
            missing = [
                r["id"] for r in rows if r.get("is_completed") and r["id"] not in completions
            ]
            completions |= self._task_completions(missing)
            for row in rows:
                yield normalize.activity_from_task(row, completed_at=completions.get(row["id"]))

    def _completions(self, params: Params) -> dict[int, datetime]:
        """task id → when it was completed (the latest task_completed event)."""
        found: dict[int, datetime] = {}
        listing = [("filter[entity][]", "task"), ("filter[type][]", "task_completed"), *params]
        for event in self.client.pages(EVENTS, listing, "events", limit=EVENTS_PAGE):
            at = normalize.parse_time(event.get("created_at"))
            task = int(event["entity_id"])
            if at is not None and (task not in found or at > found[task]):
                found[task] = at
        return found

    def _task_completions(self, task_ids: Iterable[int]) -> dict[int, datetime]:
        found: dict[int, datetime] = {}
        for chunk in batched(sorted(set(task_ids)), IDS_PER_EVENT_FILTER):
            found |= self._completions(_ids("entity_id", chunk))
        return found

    def _events_in_order(self, params: Params, since: datetime) -> Iterator[dict]:
        """Events from `since` on, a window at a time, each window sorted by id."""
        start = _ts(since)
        end = _ts(datetime.now(tz=since.tzinfo)) + 1
        while start <= end:
            stop = start + int(EVENTS_WINDOW.total_seconds())
            window = [*params, ("filter[created_at][from]", start)]
            if stop <= end:
                window.append(("filter[created_at][to]", stop - 1))
            rows = list(self.client.pages(EVENTS, window, "events", limit=EVENTS_PAGE))
            yield from sorted(rows, key=lambda e: normalize.event_number(e["id"]))
            start = stop

    def _history_beyond(self, since: datetime, after_id: int) -> Iterator[StageChangeRecord]:
        """Status changes as deal and lead history rows, with a creation row for each lead
        created in the window: from where its first move started, or (if none yet) its
        stage now. The walk starts at `since` even when resumed: what it skips still tells
        which leads were created in the window and which already moved."""
        params: Params = [
            ("filter[entity][]", "lead"),
            ("filter[type][]", LEAD_ADDED),
            ("filter[type][]", STATUS_CHANGED),
        ]
        created: set[int] = set()  # leads created in the window
        moved: set[int] = set()  # …whose first move was seen
        known: dict[int, dict] = {}  # lead rows fetched for their creation rows
        first = self.first_statuses()
        for page in batched(self._events_in_order(params, since), EVENTS_PAGE):
            # An event is done when its last (the deal's) row is at or below the cursor.
            undone = [2 * normalize.event_number(e["id"]) + 1 > after_id for e in page]
            wanted = set()
            for event, beyond in zip(page, undone, strict=True):
                lead = int(event["entity_id"])
                if event["type"] == LEAD_ADDED:
                    created.add(lead)
                    if beyond:
                        wanted.add(lead)
                elif lead in created and lead not in moved and beyond:
                    wanted.add(lead)
            known |= self._leads_by_id(wanted - known.keys())
            for event, beyond in zip(page, undone, strict=True):
                lead = int(event["entity_id"])
                if event["type"] == LEAD_ADDED:
                    if beyond and lead in known:
                        yield from self._creation(known[lead], None, first)
                    continue
                if lead in created and lead not in moved:
                    moved.add(lead)
                    if beyond and lead in known:
                        yield from self._creation(known[lead], event, first)
                for entity_type in ("lead", "deal"):
                    record = normalize.status_change_from_amo(
                        event, entity_type=entity_type, first_statuses=first
                    )
                    if int(record.crm_id) > after_id:
                        yield record

    @staticmethod
    def _creation(lead: dict, first_move: dict | None, first) -> Iterator[StageChangeRecord]:
        for entity_type in ("lead", "deal"):
            yield normalize.creation_from_amo(
                lead, first_move, entity_type=entity_type, first_statuses=first
            )

    def _leads_by_id(self, ids: Iterable[int]) -> dict[int, dict]:
        rows: dict[int, dict] = {}
        for chunk in batched(sorted(set(ids)), PAGE):
            for row in self.client.pages(LEADS, [*_ids("id", chunk), LEAD_WITH], "leads"):
                rows[int(row["id"])] = row
        return rows

    def estimates(self, sources: list[HistorySource]) -> dict[str, int]:
        """How many rows each source holds. amoCRM lists carry no totals, so the last page
        is found by doubling the page number until 204, then halving back (a few requests)."""
        return {source.name: self._count(*source.count) for source in sources}

    def _count(self, path: str, params: Params, key: str, limit: int) -> int:
        def page(number: int) -> int:
            body = self.client.get(path, [*params, ("limit", limit), ("page", number)])
            return len(((body or {}).get("_embedded") or {}).get(key) or [])

        last_full, size = 0, page(1)
        if size < limit:
            return size
        low, high = 1, 2
        while (size := page(high)) == limit:
            low, high = high, high * 2
        # Page `low` is full and page `high` is not: find the last full one in between.
        tail = size
        while high - low > 1:
            middle = (low + high) // 2
            size = page(middle)
            if size == limit:
                low = middle
            else:
                high, tail = middle, size
        last_full = low
        return last_full * limit + tail

    # -- reconciliation ---------------------------------------------------------------------

    def changed_since(self, since: datetime) -> dict[str, set[int]]:
        """Leads changed (or moved to the trash) after `since`, as leads and as deals, and the
        tasks and call notes changed after it."""
        t = _ts(since) + 1
        leads = {int(row["id"]) for row in self.client.pages(
            LEADS, [("filter[updated_at][from]", t)], "leads")}  # fmt: skip
        trashed = self.client.pages(
            LEADS, [("filter[updated_at][from]", t), ("with", "only_deleted")], "leads"
        )
        leads |= {int(row["id"]) for row in trashed}
        tasks = self.client.pages(TASKS, [("filter[updated_at][from]", t)], "tasks")
        notes = self.client.pages(NOTES, [("filter[updated_at][from]", t), *CALL_NOTES], "notes")
        activities = {normalize.activity_crm_id("task", row["id"]) for row in tasks}
        activities |= {normalize.activity_crm_id("note", row["id"]) for row in notes}
        return {"lead": set(leads), "deal": set(leads), "activity": activities}

    def all_ids(self, entity_type: str) -> set[int]:
        """Every id of a lead, deal or activity the CRM still has (finding deletions)."""
        if entity_type in ("lead", "deal"):
            return {int(row["id"]) for row in self.client.pages(LEADS, None, "leads")}
        tasks = {normalize.activity_crm_id("task", r["id"])
                 for r in self.client.pages(TASKS, None, "tasks")}  # fmt: skip
        notes = {normalize.activity_crm_id("note", r["id"])
                 for r in self.client.pages(NOTES, CALL_NOTES, "notes")}  # fmt: skip
        return tasks | notes

    # -- entities by id (events, reconciliation) --------------------------------------------

    def entities_current(
        self, entity_type: str, ids: Iterable[int]
    ) -> tuple[list[DealRecord | LeadRecord], list[StageChangeRecord], list[ActivityRecord]]:
        """Leads as they are now (as deals or as leads), their whole stage history and their
        tasks and calls. The sync asks for the same ids as leads and as deals in turn: the
        second answer reuses the first's requests."""
        wanted = frozenset(int(i) for i in ids)
        if self._current is None or self._current[0] != wanted:
            self._current = (wanted, self._fetch_current(wanted))
        rows, moves, activities = self._current[1]
        first = self.first_statuses()
        parse = self._deal if entity_type == "deal" else self._lead
        history: list[StageChangeRecord] = []
        for row in rows:
            own = moves.get(int(row["id"]), [])
            history.append(
                normalize.creation_from_amo(
                    row, own[0] if own else None, entity_type=entity_type, first_statuses=first
                )
            )
            history += [normalize.status_change_from_amo(
                event, entity_type=entity_type, first_statuses=first) for event in own]  # fmt: skip
        return [parse(row) for row in rows], history, activities

    def _fetch_current(self, ids: frozenset[int]) -> tuple[list[dict], dict, list]:
        rows = list(self._leads_by_id(ids).values())
        present = sorted(int(row["id"]) for row in rows)
        moves: dict[int, list[dict]] = {}
        for chunk in batched(present, IDS_PER_EVENT_FILTER):
            params = [("filter[entity][]", "lead"), ("filter[type][]", STATUS_CHANGED),
                      *_ids("entity_id", chunk)]  # fmt: skip
            for event in self.client.pages(EVENTS, params, "events", limit=EVENTS_PAGE):
                moves.setdefault(int(event["entity_id"]), []).append(event)
        for events in moves.values():
            events.sort(key=lambda e: (int(e["created_at"]), normalize.event_number(e["id"])))
        activities: list[ActivityRecord] = []
        for chunk in batched(present, PAGE):
            tasks = list(
                self.client.pages(
                    TASKS, [("filter[entity_type]", "leads"), *_ids("entity_id", chunk)], "tasks"
                )
            )
            activities += self._tasks(tasks)
            notes = self.client.pages(NOTES, [*_ids("entity_id", chunk), *CALL_NOTES], "notes")
            activities += [normalize.activity_from_call_note(row) for row in notes]  # fmt: skip
        return rows, moves, activities

    def _tasks(self, rows: list[dict]) -> list[ActivityRecord]:
        completions = self._task_completions(r["id"] for r in rows if r.get("is_completed"))
        return [
            normalize.activity_from_task(row, completed_at=completions.get(row["id"]))
            for row in rows
        ]

    def activities_by_id(self, ids: Iterable[int]) -> list[ActivityRecord]:
        by_kind: dict[str, list[int]] = {"task": [], "note": []}
        for crm_id in sorted(set(ids)):
            kind, amo_id = normalize.activity_source(crm_id)
            by_kind[kind].append(amo_id)
        records: list[ActivityRecord] = []
        for chunk in batched(by_kind["task"], PAGE):
            records += self._tasks(list(self.client.pages(TASKS, _ids("id", chunk), "tasks")))
        for chunk in batched(by_kind["note"], PAGE):
            notes = self.client.pages(NOTES, [*_ids("id", chunk), *CALL_NOTES], "notes")
            records += [normalize.activity_from_call_note(row) for row in notes]
        return records

    # -- events, payment, reminders ---------------------------------------------------------

    def events_bind(self) -> None:
        """Subscribe our webhook (an upsert by destination in amoCRM: idempotent)."""
        from integrations.amocrm.install import webhook_subscribe

        webhook_subscribe(self.client, self.portal)

    def paid_state(self) -> PaidStateRecord:
        """amoCRM has no billing source for our app yet: no subscription is reported, so the
        tier is the operator's override or the trial (DESIGN "amoCRM in the canonical
        mirror"). No request is made."""
        return PaidStateRecord(tier=None)

    def notify(self, user_crm_id: int, lines: list[NoticeLine], *, tag: str = "") -> None:
        """One task for the user, due at the end of today in the account's time zone,
        listing the lines with their card links; a task with the same `tag` set today is
        not set again. It is bound to the first lead the lines link to (it shows in that
        card), else to nothing."""
        zone = ZoneInfo(self.portal.time_zone)
        today = datetime.now(zone).date()
        day_start = datetime.combine(today, time.min, zone)
        day_end = datetime.combine(today, time(23, 59, 59), zone)
        if tag and self._notified(user_crm_id, tag, since=day_start):
            return
        text = "\n".join(([tag] if tag else []) + [_line(line) for line in lines])
        task: dict = {
            "task_type_id": 1,
            "text": text,
            "complete_till": _ts(day_end),
            "responsible_user_id": int(user_crm_id),
        }
        lead = next((m for line in lines if (m := CARD_LINK.search(line.link_url))), None)
        if lead:
            task |= {"entity_id": int(lead.group(1)), "entity_type": "leads"}
        self.client.post(TASKS, [task])

    def _notified(self, user_crm_id: int, tag: str, *, since: datetime) -> bool:
        params = [("filter[responsible_user_id]", int(user_crm_id)),
                  ("filter[updated_at][from]", _ts(since))]  # fmt: skip
        return any(
            (row.get("text") or "").split("\n", 1)[0] == tag
            and int(row.get("created_at") or 0) >= _ts(since)
            for row in self.client.pages(TASKS, params, "tasks")
        )


def _line(line: NoticeLine) -> str:
    """A task text is plain: amoCRM links a bare URL itself."""
    if not line.link_url:
        return line.text
    return f"{line.link_text} — {line.text} {line.link_url}".strip()


def history_source_labels() -> dict[str, str]:
    """The import's progress line for each of AmoCRMAdapter.history_sources()."""
    return {
        "leads": gettext_lazy("leads"),
        "open_leads": gettext_lazy("older leads still in work"),
        "deals": gettext_lazy("deals"),
        "open_deals": gettext_lazy("older deals still in work"),
        "activities": gettext_lazy("tasks"),
        "planned_activities": gettext_lazy("planned tasks"),
        "calls": gettext_lazy("calls"),
        "deal_history": gettext_lazy("status history of leads and deals"),
    }
