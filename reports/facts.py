"""What one lead or deal contributes to the daily aggregates (pure functions; an activity's
one count, on the day it was completed, is counted in SQL by reports.aggregates).

The incremental update and the full rebuild share these: an event subtracts the entity's
contribution as the mirror held it and adds the one it holds now; a rebuild adds everyone's.
Metric definitions are DESIGN.md's: a win counts once, on the day of the latest entry into
the won stage, with the current amount; "in work" at the end of a period is the sum of the
+1/−1 steps taken whenever an entity starts or stops being open, up to that day.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from itertools import zip_longest
from zoneinfo import ZoneInfo

from crmapp.models import StageChange
from reports.metrics import FACT_KEYS, OPEN, WON
from reports.models import NO_EMPLOYEE, NO_PIPELINE

# (day, metric, employee, pipeline, source, stage) → [qty, amount in cents, seconds]
Key = tuple[date, str, int, int, str, str]
Facts = dict[Key, list[int]]

# The "state" bucket: rows on this day hold what is open now (Σ of every open/close step),
# so "in work" at the end of a period is read from the state minus the steps after it,
# instead of summing every step since the beginning.
STATE_DAY = date(9999, 12, 31)
# DESIGN.md's long cycle: a deal won more than 180 days after it was created.
LONG_CYCLE_SECONDS = 180 * 86400


def facts_new() -> Facts:
    return defaultdict(lambda: [0, 0, 0])


def facts_merge(into: Facts, other: Mapping[Key, list[int]], sign: int = 1) -> Facts:
    for key, (qty, amount, seconds) in other.items():
        values = into[key]
        values[0] += sign * qty
        values[1] += sign * amount
        values[2] += sign * seconds
    return into


def facts_nonzero(facts: Mapping[Key, list[int]]) -> dict[Key, tuple[int, int, int]]:
    return {key: tuple(values) for key, values in facts.items() if any(values)}


def cents(amount: Decimal | None) -> int:
    return int((amount or 0) * 100)


def owner_facts(
    entity_type: str, row: Mapping, history: list[Mapping], tz: ZoneInfo, into: Facts
) -> None:
    """A lead's or deal's contribution. `row` holds the mirror's fields plus `employee`,
    `pipeline` (CRM ids or None) and, for a lead, `status` (its status's CRM id); `history`
    its stage changes in order."""
    employee = row["employee"] or NO_EMPLOYEE
    pipeline = NO_PIPELINE if row["pipeline"] is None else row["pipeline"]
    source = row["source"] or ""
    amount = cents(row["amount"])
    created = row["created_at"]

    keys = FACT_KEYS[entity_type]

    def add(when: datetime | date, metric: str, qty=1, value=amount, seconds=0, **dims) -> None:
        key = (
            when if type(when) is date else when.astimezone(tz).date(),
            keys[metric],
            employee,
            dims.get("pipeline", pipeline),
            source,
            dims.get("stage", ""),
        )
        values = into[key]
        values[0] += qty
        values[1] += value
        values[2] += seconds

    add(created, "created")
    if entity_type == "lead":
        # The marketing report's received leads by their status now (new, in work, converted,
        # junk), on the day they came in: moving a lead moves its row from status to status.
        add(created, "received", stage=row.get("status") or "")
    if row["semantic"] != OPEN and row["closed_at"]:
        closed = row["closed_at"]
        cycle = int((closed - created).total_seconds())
        add(closed, row["semantic"], seconds=cycle)
        if row["semantic"] == WON and cycle > LONG_CYCLE_SECONDS:
            add(closed, "won_long", seconds=cycle)
    if entity_type == "lead" and row["semantic"] != OPEN:
        # Lead conversion is a cohort figure: of the leads received in P, how many converted.
        add(created, "created_won" if row["semantic"] == WON else "created_lost")
    for when, step in open_steps(row, history):
        add(when, "in_work", qty=step, value=step * amount)
    if row["semantic"] == OPEN:
        add(STATE_DAY, "open_now")
    for entered, left in zip_longest(history, history[1:]):
        stage_pipeline = entered["pipeline_crm_id"]
        dims = {
            "stage": entered["stage_crm_id"],
            "pipeline": pipeline if stage_pipeline is None else stage_pipeline,
        }
        add(entered["changed_at"], "stage_in", **dims)
        if left is not None:
            spent = int((left["changed_at"] - entered["changed_at"]).total_seconds())
            add(left["changed_at"], "stage_out", value=0, seconds=spent, **dims)
        elif row["semantic"] == OPEN and entered["semantic"] == OPEN:
            # Sitting in the stage now: the state bucket holds the moment it entered (epoch
            # seconds), so "days there so far" is now − the mean entry, whenever it is read.
            since = int(entered["changed_at"].timestamp())
            add(STATE_DAY, "stage_now", value=0, seconds=since, **dims)


def open_steps(row: Mapping, history: list[Mapping]) -> Iterable[tuple[datetime, int]]:
    """(time, +1 | −1) each time the entity starts or stops being open.

    The history starts at the tier window, so an older entity's state before its first known
    change is taken as open (it was created open, and moves are what the history records).
    Where the last history row disagrees with the current state (a change that left no row:
    a CSV import, rows lost on an old portal), the current state wins from the entity's last
    modification (never before that last row): the steps always sum to "open now".
    `mirror._closed_at` dates such a close the same way.
    """
    created = row["created_at"]
    if history and history[0]["kind"] == StageChange.Kind.CREATED:
        is_open, changes = history[0]["semantic"] == OPEN, history[1:]
    elif history:
        is_open, changes = True, history
    else:
        is_open, changes = row["semantic"] == OPEN, []
    if is_open:
        yield created, 1
    for change in changes:
        now_open = change["semantic"] == OPEN
        if now_open != is_open:
            yield change["changed_at"], 1 if now_open else -1
            is_open = now_open
    if (row["semantic"] == OPEN) != is_open:
        last_row = history[-1]["changed_at"] if history else created
        yield max(row["modified_at"] or last_row, last_row), -1 if is_open else 1
