"""Maintaining the daily aggregates: incrementally with every mirror write, or rebuilt.

`facts_tracking` wraps a mirror write: it takes the named entities' contribution before and
after, and adds the difference, in the writer's transaction. The full rebuild adds every
entity's contribution chunk by chunk through the same functions. While a portal's history
import runs, only entities its lanes have already counted are tracked; the rest are counted
when their lane reaches them.
"""

from __future__ import annotations

import calendar
import functools
import logging
import operator
import random
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from itertools import batched
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Count, F, Q, Sum, Value
from django.db.models.functions import TruncDate

from crmapp.models import Activity, Deal, ImportLane, Lead, Portal, StageChange
from crmapp.tiers import window_first_day_start
from reports.facts import (
    STATE_DAY,
    Facts,
    facts_merge,
    facts_new,
    facts_nonzero,
    owner_facts,
)
from reports.metrics import (
    ACTIVITY_KEYS,
    DEAL_OPEN_NOW,
    IS_OPEN,
    LEAD_OPEN_NOW,
    OWNER_CALLS,
    fact_key,
)
from reports.models import NO_EMPLOYEE, NO_PIPELINE, DayFact, FactCheck, MonthFact
from reports.rollup import month_after

log = logging.getLogger(__name__)

ENTITY_TYPES = ("lead", "deal", "activity")  # the order of the rebuild pass
MODELS = {"lead": Lead, "deal": Deal, "activity": Activity}
OWNER_FIELDS = (
    "crm_id", "semantic", "amount", "source", "created_at", "modified_at", "closed_at",
    "moved_at",
)  # fmt: skip
HISTORY_FIELDS = ("owner_crm_id", "kind", "pipeline_crm_id", "stage_crm_id", "semantic",
                  "changed_at", "crm_id")  # fmt: skip
REBUILD_CHUNK = 5000

ROWS_PER_STATEMENT = 500  # SQLite: 10 parameters a row, well under its 32,766
# PostgreSQL: up to this many rows go as one statement of 10 array parameters; more (a
# rebuild's chunk holds about ten rows per lead or deal) are copied into a scratch table and
# added from there, which spares the client quoting every array element.
ROWS_PER_ARRAY = 5000


@functools.cache
def _add_sql(model, source: str) -> str:
    """INSERT of the rows `source` selects that adds to the rows already there (both SQLite
    and PostgreSQL speak ON CONFLICT … DO UPDATE with `excluded`). Identifiers come from the
    model; values are parameters or the scratch table's rows."""
    table, key = model._meta.db_table, ", ".join(["portal_id", *model.KEY])
    return (
        f"INSERT INTO {table} ({key}, qty, amount_cents, seconds) {source} "
        f"ON CONFLICT ({key}) DO UPDATE SET qty = {table}.qty + excluded.qty, "
        f"amount_cents = {table}.amount_cents + excluded.amount_cents, "
        f"seconds = {table}.seconds + excluded.seconds"
    )


def _fields(model) -> list[str]:
    return ["portal", *model.KEY, "qty", "amount_cents", "seconds"]


@functools.cache
def _values(model, rows: int) -> str:
    return "VALUES " + ", ".join([f"({', '.join(['%s'] * len(_fields(model)))})"] * rows)


@functools.cache
def _arrays(model) -> str:
    """PostgreSQL: one array parameter per column. psycopg parses a statement's text on every
    call, and for thousands of parameter markers that parse cost more than the database's work."""
    types = [model._meta.get_field(c).db_type(connection).split("(")[0] for c in _fields(model)]
    return f"SELECT * FROM unnest({', '.join(f'%s::{t}[]' for t in types)})"  # noqa: S608


Refs = dict[str, set[int]]


def portal_zone(portal: Portal) -> ZoneInfo:
    return ZoneInfo(portal.time_zone)


# -- contributions of named entities -------------------------------------------------------


def facts_of(portal: Portal, refs: Refs) -> Facts:
    """The current contribution of the named leads, deals and activities."""
    tz, facts = portal_zone(portal), facts_new()
    for entity_type in ("lead", "deal"):
        if ids := refs.get(entity_type):
            _owners_facts(portal, entity_type, _owner_rows(portal, entity_type, ids), tz, facts)
    if ids := refs.get("activity"):
        _activities_facts(portal, Q(crm_id__in=list(ids)), tz, facts)
    return facts


def _owner_rows(portal: Portal, entity_type: str, ids: Iterable[int]):
    pipeline = F("pipeline__crm_id") if entity_type == "deal" else None
    rows = (
        MODELS[entity_type]
        .objects.for_portal(portal)
        .filter(crm_id__in=list(ids))
        .values(*OWNER_FIELDS, employee=F("responsible__crm_id"))
    )
    if pipeline is not None:
        return list(rows.annotate(pipeline=pipeline))
    return [{**row, "pipeline": None} for row in rows.annotate(status=F("status__crm_id"))]


def _owners_facts(portal, entity_type, rows, tz, facts: Facts) -> None:
    history = owner_history(portal, entity_type, [row["crm_id"] for row in rows])
    for row in rows:
        owner_facts(entity_type, row, history[row["crm_id"]], tz, facts)


def owner_history(portal: Portal, entity_type: str, owner_ids: list[int]) -> dict[int, list]:
    """Each lead's or deal's stage changes, in the order they happened."""
    history = defaultdict(list)
    changes = (
        StageChange.objects.for_portal(portal)
        .filter(entity_type=entity_type, owner_crm_id__in=owner_ids)
        .values(*HISTORY_FIELDS)
    )
    for change in sorted(changes, key=_history_order):
        history[change["owner_crm_id"]].append(change)
    return history


def _history_order(change) -> tuple:
    # CRM ids are numeric strings: compare them as numbers for changes in the same second.
    return change["changed_at"], len(change["crm_id"]), change["crm_id"]


def _activities_facts(portal: Portal, where: Q, tz: ZoneInfo, facts: Facts) -> None:
    """A completed activity counts once, on the day it happened, for its responsible: counted
    by the database, one row per day, kind and employee (the rebuild's 5M activities would
    otherwise cross into Python one by one)."""
    counted = (
        Activity.objects.for_portal(portal)
        .filter(where, completed=True, completed_at__isnull=False)
        .annotate(day=TruncDate("completed_at", tzinfo=tz))
        .values_list("day", "kind", "responsible__crm_id")
        .annotate(qty=Count("pk"))
        .order_by()
    )
    for day, kind, employee, qty in counted:
        facts[(day, ACTIVITY_KEYS[kind], employee or NO_EMPLOYEE, NO_PIPELINE, "", "")][0] += qty
    for owner_type, metric in OWNER_CALLS.items():
        owner = f"owner_{owner_type}"
        pipeline = F(f"{owner}__pipeline__crm_id") if owner_type == "deal" else Value(NO_PIPELINE)
        calls = (
            Activity.objects.for_portal(portal)
            .filter(where, kind=Activity.Kind.CALL, owner_type=owner_type, completed=True,
                    completed_at__isnull=False, **{f"{owner}__id__isnull": False})
            .annotate(day=TruncDate("completed_at", tzinfo=tz), owner_pipeline=pipeline)
            .values_list("day", "responsible__crm_id", "owner_pipeline", f"{owner}__source")
            .annotate(qty=Count("pk"))
            .order_by()
        )  # fmt: skip
        for day, employee, in_pipeline, source, qty in calls:
            in_pipeline = NO_PIPELINE if in_pipeline is None else in_pipeline
            facts[(day, metric, employee or NO_EMPLOYEE, in_pipeline, source, "")][0] += qty


# -- writing ---------------------------------------------------------------------------------


def facts_add(portal: Portal, facts: Facts, *, prune: bool = True) -> None:
    """Add `facts` to the stored aggregates, daily and monthly (one upsert per key), then
    drop rows that fell to zero, so an entity's removal leaves no trace (a rebuild, only
    adding, skips that)."""
    days = [(portal.pk, *key, *values) for key, values in facts.items() if any(values)]
    if not days:
        return
    by_month = facts_new()
    for key, values in facts.items():
        facts_merge(by_month, {(key[0].replace(day=1), *key[1:]): values})
    months = [(portal.pk, *key, *values) for key, values in by_month.items() if any(values)]
    for model, rows in ((DayFact, days), (MonthFact, months)):
        _upsert(model, rows)
        if prune:
            dates = {row[1] for row in rows}
            model.objects.for_portal(portal).filter(
                **{f"{model.KEY[0]}__in": dates}, qty=0, amount_cents=0, seconds=0
            ).delete()


def _upsert(model, rows: list[tuple]) -> None:
    # In key order, so concurrent writers lock shared rows in the same order (no deadlock).
    rows = sorted(rows)
    if not rows:
        return
    if connection.vendor == "postgresql" and len(rows) > ROWS_PER_ARRAY:
        _upsert_copied(model, rows)
        return
    with connection.cursor() as cursor:
        # Many rows a statement: one round trip per batch instead of one per key.
        if connection.vendor == "postgresql":
            columns = [list(column) for column in zip(*rows, strict=True)]
            cursor.execute(_add_sql(model, _arrays(model)), columns)
        else:
            for batch in batched(rows, ROWS_PER_STATEMENT):
                values = [value for row in batch for value in row]
                cursor.execute(_add_sql(model, _values(model, len(batch))), values)


def _upsert_copied(model, rows: list[tuple]) -> None:
    """PostgreSQL: COPY the rows into the session's scratch table, add them from there in key
    order, and empty it (it may serve twice in one transaction)."""
    scratch, key = f"{model._meta.db_table}_added", ", ".join(["portal_id", *model.KEY])
    columns = f"{key}, qty, amount_cents, seconds"
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {scratch} ON COMMIT DELETE ROWS "  # noqa: S608
            f"AS SELECT {columns} FROM {model._meta.db_table} WITH NO DATA"
        )
        with cursor.copy(f"COPY {scratch} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        added = f"SELECT {columns} FROM {scratch} ORDER BY {key}"  # noqa: S608 (the model's)
        cursor.execute(_add_sql(model, added))
        cursor.execute(f"TRUNCATE {scratch}")


def facts_clear(portal: Portal) -> None:
    """Forget a portal's aggregates (before a recount)."""
    for model in (DayFact, MonthFact):
        model.objects.for_portal(portal)._raw_delete(model.objects.db)


@transaction.atomic
def facts_forget_before(portal: Portal, day: date) -> int:
    """Drop the aggregates of the days before `day` (a tier's window start; the "open now"
    state lives on the last day there is and stays); the month `day` falls in is summed
    again from the days it keeps. Returns the rows deleted."""
    first = day.replace(day=1)
    deleted = DayFact.objects.for_portal(portal).filter(day__lt=day)._raw_delete(DayFact.objects.db)
    months = MonthFact.objects.for_portal(portal).filter(month__lte=first)
    deleted += months._raw_delete(MonthFact.objects.db)
    kept = facts_new()
    for key, values in facts_stored(
        portal, where=Q(day__gte=day, day__lt=month_after(first))
    ).items():
        facts_merge(kept, {(first, *key[1:]): values})
    _upsert(MonthFact, [(portal.pk, *key, *values) for key, values in kept.items()])
    return deleted


@contextmanager
def facts_tracking(portal: Portal, refs: Refs) -> Iterator[None]:
    """Keep the aggregates in step with a mirror write of the named entities.

    Call inside the writer's transaction, with the portal row locked.
    """
    tracked = _tracked(portal, _with_owned_calls(portal, refs))
    before = facts_of(portal, tracked)
    yield
    if any(tracked.values()):
        facts_add(portal, facts_merge(facts_of(portal, tracked), before, sign=-1))


def _with_owned_calls(portal: Portal, refs: Refs) -> Refs:
    """`refs` and the completed calls of its leads and deals: an owner's source and pipeline
    are part of its calls' contribution, so writing the owner counts them again."""
    owners = [
        Q(owner_type=owner_type, owner_crm_id__in=list(refs[owner_type]))
        for owner_type in OWNER_CALLS
        if refs.get(owner_type)
    ]
    if not owners:
        return refs
    calls = Activity.objects.for_portal(portal).filter(
        functools.reduce(operator.or_, owners), kind=Activity.Kind.CALL, completed=True
    )
    found = set(calls.values_list("crm_id", flat=True))
    if not found:
        return refs
    return {**refs, "activity": set(refs.get("activity", ())) | found}


def _tracked(portal: Portal, refs: Refs) -> Refs:
    """The named entities the aggregates already count (all, once the import is done).

    While an import's lanes run, every lane of the portal is locked first (the caller holds
    the portal row): a lane's chunk, which derives fields or counts entities of its own type
    from rows this write may change, then runs before or after the write, never across it.
    """
    if portal.import_phase == Portal.ImportPhase.DONE:
        return {entity_type: set(ids) for entity_type, ids in refs.items()}
    lanes = {
        lane.entity_type: lane
        for lane in ImportLane.objects.for_portal(portal)
        .select_for_update()
        .order_by("entity_type")
    }
    tracked = {}
    for entity_type, ids in refs.items():
        lane = lanes.get(entity_type)
        if lane is None or lane.step == ImportLane.Step.DERIVE:
            continue
        if lane.step == ImportLane.Step.DONE:
            tracked[entity_type] = set(ids)
        else:
            tracked[entity_type] = {crm_id for crm_id in ids if crm_id <= lane.after_id}
    return tracked


# -- rebuilding --------------------------------------------------------------------------------


def facts_rebuild_chunk(portal: Portal, entity_type: str, after_id: int) -> tuple[int, int | None]:
    """Add the contribution of the next REBUILD_CHUNK entities after `after_id`; returns how
    many were counted and the last id, or None as the id when the type is through."""
    ids = list(
        MODELS[entity_type]
        .objects.for_portal(portal)
        .filter(crm_id__gt=after_id)
        .order_by("crm_id")
        .values_list("crm_id", flat=True)[:REBUILD_CHUNK]
    )
    if ids:
        facts_add(portal, facts_of(portal, {entity_type: set(ids)}), prune=False)
    return len(ids), ids[-1] if len(ids) == REBUILD_CHUNK else None


@transaction.atomic
def facts_rebuild(portal: Portal) -> None:
    """Recount a portal's aggregates from the mirror (operator command, time-zone change)."""
    Portal.objects.select_for_update().get(pk=portal.pk)
    facts_clear(portal)
    for entity_type in ENTITY_TYPES:
        after_id = 0
        while after_id is not None:
            _, after_id = facts_rebuild_chunk(portal, entity_type, after_id)


# -- self-check ------------------------------------------------------------------------------


def facts_expected(portal: Portal, days: Iterable[date]) -> dict:
    """What a rebuild would store for `days`, recounted from the entities that touch them."""
    tz, wanted = portal_zone(portal), set(days)
    refs: Refs = defaultdict(set)
    for day in wanted:
        start = datetime.combine(day, time.min, tz)
        span = (start, start + timedelta(days=1))
        for entity_type in ("lead", "deal"):
            moved = StageChange.objects.for_portal(portal).filter(
                entity_type=entity_type, changed_at__range=span
            )
            touching = (
                MODELS[entity_type]
                .objects.for_portal(portal)
                .filter(
                    Q(created_at__range=span)
                    | Q(closed_at__range=span)
                    | Q(moved_at__range=span)
                    | Q(modified_at__range=span)
                    | Q(crm_id__in=moved.values("owner_crm_id"))
                )
            )
            refs[entity_type].update(touching.values_list("crm_id", flat=True))
        completed = Activity.objects.for_portal(portal).filter(completed_at__range=span)
        refs["activity"].update(completed.values_list("crm_id", flat=True))
    expected = facts_of(portal, refs)
    return facts_nonzero({key: v for key, v in expected.items() if key[0] in wanted})


def facts_stored(portal: Portal, days: Iterable[date] | None = None, *, where=None) -> dict:
    rows = DayFact.objects.for_portal(portal)
    if days is not None:
        rows = rows.filter(day__in=list(days))
    if where is not None:
        rows = rows.filter(where)
    return facts_nonzero(
        {
            tuple(row[:6]): list(row[6:])
            for row in rows.values_list(*DayFact.KEY, "qty", "amount_cents", "seconds")
        }
    )


def state_compare(portal: Portal) -> list[dict]:
    """The "open now" state bucket against a count of open leads and deals in the mirror."""
    expected: dict[tuple, tuple[int, int]] = {}
    for entity_type in ("lead", "deal"):
        pipeline = "pipeline__crm_id" if entity_type == "deal" else "semantic"
        rows = (
            MODELS[entity_type]
            .objects.for_portal(portal)
            .filter(IS_OPEN)
            .values("responsible__crm_id", pipeline)
            .annotate(qty=Count("id"), amount=Sum("amount"))
        )
        for row in rows:
            key = (
                fact_key(entity_type, "open_now"),
                row["responsible__crm_id"] or NO_EMPLOYEE,
                NO_PIPELINE if entity_type == "lead" or row[pipeline] is None else row[pipeline],
            )
            expected[key] = (row["qty"], round((row["amount"] or 0) * 100))
    stored = {
        (row["metric"], row["employee_crm_id"], row["pipeline_crm_id"]): (row["qty"], row["cents"])
        for row in DayFact.objects.for_portal(portal)
        .filter(day=STATE_DAY, metric__in=(LEAD_OPEN_NOW, DEAL_OPEN_NOW))
        .values("metric", "employee_crm_id", "pipeline_crm_id")
        .annotate(qty=Sum("qty"), cents=Sum("amount_cents"))
    }
    return [
        {"day": STATE_DAY.isoformat(), "metric": key[0], "employee": key[1],
         "pipeline": key[2], "source": "*", "stage": "", "stored": stored.get(key),
         "expected": expected.get(key)}
        for key in sorted(set(expected) | set(stored))
        if expected.get(key) != stored.get(key)
    ]  # fmt: skip


def facts_recount(portal: Portal) -> dict:
    """Everything a rebuild would store, counted in memory (the fault tests' yardstick)."""
    facts = facts_new()
    for entity_type in ENTITY_TYPES:
        ids = MODELS[entity_type].objects.for_portal(portal).values_list("crm_id", flat=True)
        for chunk in batched(ids.order_by("crm_id"), REBUILD_CHUNK):
            facts_merge(facts, facts_of(portal, {entity_type: set(chunk)}))
    return facts_nonzero(facts)


def rollup_compare(portal: Portal, months: Iterable[date] | None = None) -> list[dict]:
    """Differences between the monthly rollup and its days summed, for `months` (or all)."""
    stored_months = MonthFact.objects.for_portal(portal)
    where = None
    if months is not None:
        months = sorted({month.replace(day=1) for month in months})
        stored_months = stored_months.filter(month__in=months)
        where = Q(pk__in=[])
        for month in months:
            last = month.replace(day=calendar.monthrange(month.year, month.month)[1])
            where |= Q(day__range=(month, last))
    summed = facts_new()
    for key, values in facts_stored(portal, where=where).items():
        facts_merge(summed, {(key[0].replace(day=1), *key[1:]): values})
    expected = facts_nonzero(summed)
    stored = facts_nonzero(
        {
            tuple(row[:6]): list(row[6:])
            for row in stored_months.values_list(*MonthFact.KEY, "qty", "amount_cents", "seconds")
        }
    )
    return [
        {"day": key[0].isoformat(), "metric": key[1], "employee": key[2], "pipeline": key[3],
         "source": key[4], "stage": key[5], "stored": stored.get(key),
         "expected": expected.get(key), "table": "month"}
        for key in sorted(set(expected) | set(stored))
        if expected.get(key) != stored.get(key)
    ]  # fmt: skip


def facts_compare(portal: Portal, days: Iterable[date]) -> list[dict]:
    """Differences between the stored aggregates of `days` and a recount from the mirror."""
    days = list(days)
    expected, stored = facts_expected(portal, days), facts_stored(portal, days)
    return [
        {
            "day": key[0].isoformat(),
            "metric": key[1],
            "employee": key[2],
            "pipeline": key[3],
            "source": key[4],
            "stage": key[5],
            "stored": stored.get(key),
            "expected": expected.get(key),
        }
        for key in sorted(set(expected) | set(stored))
        if expected.get(key) != stored.get(key)
    ]


@transaction.atomic
def facts_check(portal: Portal, *, now: datetime, sample: int = 7, rng=None) -> FactCheck:
    """Recount today, yesterday and a random sample of the window's days that hold aggregates,
    compare, and record the result; mismatches are logged as errors (and shown in Django admin).

    The portal row is locked so no event lands between the recount and the read.
    """
    portal = Portal.objects.select_for_update().get(pk=portal.pk)
    today = now.astimezone(portal_zone(portal)).date()
    # Days before the tier's window are never read (periods are clamped) and are purged
    # nightly; until then an event may leave a partial difference there. The state day is
    # compared on its own (state_compare).
    first_day = window_first_day_start(portal, now=now).date()
    stored_days = list(
        DayFact.objects.for_portal(portal)
        .filter(day__gte=first_day, day__lt=STATE_DAY)
        .values_list("day", flat=True)
        .distinct()
    )
    rng = rng or random.Random()
    days = {today, today - timedelta(days=1)}
    days |= set(rng.sample(stored_days, min(sample, len(stored_days))))
    mismatches = facts_compare(portal, days) + state_compare(portal) + rollup_compare(portal, days)
    check = FactCheck.objects.create(
        portal=portal,
        checked_at=now,
        days=sorted(day.isoformat() for day in days | {STATE_DAY}),
        mismatches=mismatches,
    )
    if mismatches:
        log.error(
            "aggregates of %s differ from a recount on %d keys, e.g. %s",
            portal,
            len(mismatches),
            mismatches[0],
        )
    return check
