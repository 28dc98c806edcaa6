"""Manager efficiency (DESIGN.md metrics), read from the daily aggregates.

Returns plain data in the CLI's JSON shape; pages, exports and the API render the same dict.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from reports.facts import STATE_DAY
from reports.metrics import ACTIVITY_KEYS, DEAL_IN_WORK, DEAL_LOST, DEAL_WON, LEAD_IN_WORK, fact_key
from reports.models import ReportSettings
from reports.people import report_people
from reports.rollup import facts_summed, facts_where
from reports.scope import Scope

KINDS = {"call": "calls", "meeting": "meetings", "email": "emails", "task": "tasks",
         "other": "other"}  # fmt: skip
# The columns in the groups a head of sales reads them by.
# Money first: a head of sales reads it first, and at 1280 px the last groups scroll off-screen.
COLUMN_GROUPS = {
    "money": ["won_sum", "avg_check", "lost_sum", "in_work_sum"],
    "deals": ["won_count", "lost_count", "win_rate", "cycle_days", "in_work_count"],
    "leads": ["leads_in_work"],
    "activity": ["activity_points", "activity_index", *KINDS.values()],
}
COLUMNS = [column for columns in COLUMN_GROUPS.values() for column in columns]
ACTIVITY_FACTS = [ACTIVITY_KEYS[kind] for kind in KINDS]
# What happened in a period (as against what is in work at its end).
HAPPENED = [DEAL_WON, DEAL_LOST, *ACTIVITY_FACTS]
IN_WORK_COLUMNS = ("in_work_count", "in_work_sum", "leads_in_work")
# Metrics whose month-to-month dynamics can be charted, and the aggregates each is made of.
DYNAMICS = {
    "won_sum": [DEAL_WON],
    "won_count": [DEAL_WON],
    "avg_check": [DEAL_WON],
    "win_rate": [DEAL_WON, DEAL_LOST],
    "lost_count": [DEAL_LOST],
    "activity_points": ACTIVITY_FACTS,
    **{column: [ACTIVITY_KEYS[kind]] for kind, column in KINDS.items()},
}


def _period_facts(scope: Scope, metrics: list[str], *, by_month: bool = False):
    return facts_summed(
        scope.portal,
        start=scope.start,
        end=scope.end,
        where=facts_where(scope, metrics),
        keys=("employee_crm_id", "metric"),
        by_month=by_month,
    )


def in_work(
    scope: Scope, entity_type: str, *, by: tuple[str, ...] = ("employee_crm_id",)
) -> dict[tuple, tuple[int, int]]:
    """(count, cents) open at the end of the period, by the `by` dimensions: open now, less
    the steps taken since (DESIGN.md "in work", reconstructed from the stage history)."""
    totals: dict[tuple, tuple[int, int]] = {}
    state = {"start": STATE_DAY, "end": STATE_DAY}
    since = {"start": scope.end + timedelta(days=1), "end": STATE_DAY - timedelta(days=1)}
    for sign, metric, days in ((1, "open_now", state), (-1, "in_work", since)):
        summed = facts_summed(
            scope.portal, where=facts_where(scope, [fact_key(entity_type, metric)]), keys=by, **days
        )
        for key, (qty, cents, _seconds) in summed.items():
            had_qty, had_cents = totals.get(key, (0, 0))
            totals[key] = (had_qty + sign * qty, had_cents + sign * cents)
    return totals


def efficiency(scope: Scope) -> dict:
    weights = ReportSettings.of(scope.portal).weights
    raw: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for (employee, metric), values in _period_facts(scope, HAPPENED).items():
        _count_in(raw[employee], metric, values)
    for entity_type in ("deal", "lead"):
        for (employee,), (qty, cents) in in_work(scope, entity_type).items():
            raw[employee][f"{entity_type}_in_work_qty"] += qty
            raw[employee][f"{entity_type}_in_work_cents"] += cents

    names = report_people(
        scope, {crm_id for crm_id, numbers in raw.items() if any(numbers.values())}
    )
    rows = [_row(raw[crm_id], weights) | {"id": str(crm_id), "name": name}
            for crm_id, name in names.items()]  # fmt: skip
    total_raw: dict[str, float] = defaultdict(float)
    for numbers in raw.values():
        for key, value in numbers.items():
            total_raw[key] += value
    totals = _row(total_raw, weights)
    points = totals["activity_points"]
    for row in rows:
        row["activity_index"] = _ratio(row["activity_points"], points)
    totals["activity_index"] = 100.0 if points else None
    rows.sort(key=lambda row: (-row["won_sum"], -row["activity_points"], row["name"]))
    return {
        "report": "efficiency",
        "from": scope.start.isoformat(),
        "to": scope.end.isoformat(),
        "currency": scope.portal.currency,
        "employees": [{"id": r.pop("id"), "name": r.pop("name"), **r} for r in rows],
        "totals": totals,
    }


def happened_totals(scope: Scope) -> dict:
    """The totals row of `efficiency(scope)` but for what is in work and the activity
    index: what happened in the period, summed over everyone. The overview's today and
    yesterday read no more, and skip the people and the four reads of what is open."""
    total: dict[str, float] = defaultdict(float)
    for (_employee, metric), values in _period_facts(scope, HAPPENED).items():
        _count_in(total, metric, values)
    row = _row(total, ReportSettings.of(scope.portal).weights)
    return {
        key: value for key, value in row.items() if key not in (*IN_WORK_COLUMNS, "activity_index")
    }


def _count_in(numbers: dict, metric: str, values: list[int]) -> None:
    for suffix, value in zip(("qty", "cents", "seconds"), values, strict=True):
        numbers[f"{metric}_{suffix}"] = numbers.get(f"{metric}_{suffix}", 0) + value


def _row(numbers, weights: dict[str, int]) -> dict:
    def qty(metric: str) -> int:
        return int(numbers.get(f"{metric}_qty", 0))

    def money(metric: str) -> float:
        return round(numbers.get(f"{metric}_cents", 0) / 100, 2)

    won, lost = qty(DEAL_WON), qty(DEAL_LOST)
    row = {name: qty(ACTIVITY_KEYS[kind]) for kind, name in KINDS.items()}
    row["activity_points"] = sum(weights.get(kind, 0) * row[name] for kind, name in KINDS.items())
    row["activity_index"] = None
    cycle_seconds = numbers.get("deal_won_seconds", 0)
    row |= {
        "leads_in_work": qty(LEAD_IN_WORK),
        "won_count": won,
        "won_sum": money(DEAL_WON),
        "avg_check": round(money(DEAL_WON) / won, 2) if won else None,
        "win_rate": _ratio(won, won + lost),
        "cycle_days": round(cycle_seconds / 86400 / won, 2) if won else None,
        "lost_count": lost,
        "lost_sum": money(DEAL_LOST),
        "in_work_count": qty(DEAL_IN_WORK),
        "in_work_sum": money(DEAL_IN_WORK),
    }
    return {key: row[key] for key in COLUMNS}


def _ratio(part: float, whole: float) -> float | None:
    return round(100 * part / whole, 2) if whole else None


def efficiency_dynamics(scope: Scope, metric: str, *, grain: str = "month") -> dict:
    """One metric per month (or quarter) of the period, per employee and in total."""
    if metric not in DYNAMICS:
        raise ValueError(f"unknown metric {metric!r}")
    weights = ReportSettings.of(scope.portal).weights
    metrics = DYNAMICS[metric]
    by_bucket: dict[date, dict[int, dict]] = defaultdict(lambda: defaultdict(dict))
    for (month, employee, fact), values in _period_facts(scope, metrics, by_month=True).items():
        _count_in(by_bucket[period_bucket(month, grain)][employee], fact, values)
    buckets = period_buckets(scope.start, scope.end, grain)
    names = report_people(scope, {crm_id for numbers in by_bucket.values() for crm_id in numbers})
    series = []
    for crm_id, name in names.items():
        values = [_row(by_bucket[b].get(crm_id, {}), weights)[metric] for b in buckets]
        series.append({"id": str(crm_id), "name": name, "values": values})
    totals = []
    for bucket in buckets:
        merged: dict[str, float] = defaultdict(float)
        for numbers in by_bucket[bucket].values():
            for key, value in numbers.items():
                merged[key] += value
        totals.append(_row(merged, weights)[metric])
    return {
        "metric": metric,
        "grain": grain,
        "periods": [period_label(b, grain) for b in buckets],
        "employees": series,
        "totals": totals,
    }


def period_bucket(month: date, grain: str) -> date:
    if grain == "quarter":
        return month.replace(month=3 * ((month.month - 1) // 3) + 1, day=1)
    return month.replace(day=1)


def period_buckets(start: date, end: date, grain: str) -> list[date]:
    step = 3 if grain == "quarter" else 1
    current, buckets = period_bucket(start, grain), []
    while current <= end:
        buckets.append(current)
        year, month = divmod(current.month - 1 + step, 12)
        current = current.replace(year=current.year + year, month=month + 1)
    return buckets


def period_label(bucket: date, grain: str) -> str:
    if grain == "quarter":
        return f"{bucket.year} Q{(bucket.month - 1) // 3 + 1}"
    return bucket.strftime("%Y-%m")
