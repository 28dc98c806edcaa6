"""Manager efficiency (DESIGN.md metrics), read from the daily aggregates.

Returns plain data in the CLI's JSON shape; pages, exports and the API render the same dict.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from django.db.models import Q, Sum
from django.db.models.functions import TruncMonth

from crmapp.models import Employee
from reports.facts import STATE_DAY
from reports.models import NO_EMPLOYEE, DayFact, ReportSettings
from reports.scope import Scope

KINDS = {"call": "calls", "meeting": "meetings", "email": "emails", "task": "tasks",
         "other": "other"}  # fmt: skip
COLUMNS = ["activity_points", "activity_index", *KINDS.values(), "leads_in_work", "won_count",
           "won_sum", "avg_check", "win_rate", "cycle_days", "lost_count", "lost_sum",
           "in_work_count", "in_work_sum"]  # fmt: skip
# Metrics whose month-to-month dynamics can be charted.
DYNAMICS = ["won_sum", "won_count", "avg_check", "win_rate", "lost_count", "activity_points",
            *KINDS.values()]  # fmt: skip


def _facts(scope: Scope, metrics: list[str], *, since_start: bool = True):
    rows = DayFact.objects.for_portal(scope.portal).filter(metric__in=metrics, day__lte=scope.end)
    if since_start:
        rows = rows.filter(day__gte=scope.start)
    if scope.employees is not None:
        rows = rows.filter(employee_crm_id__in=scope.employees)
    if scope.pipeline is not None:
        # Leads and activities belong to no pipeline; the pipeline filter narrows deals only.
        rows = rows.filter(Q(pipeline_crm_id=scope.pipeline) | ~Q(metric__startswith="deal_"))
    return rows


def in_work(
    scope: Scope, entity_type: str, *, by: tuple[str, ...] = ("employee_crm_id",)
) -> dict[tuple, tuple[int, int]]:
    """(count, cents) open at the end of the period, by the `by` dimensions: open now, less
    the steps taken since (DESIGN.md "in work", reconstructed from the stage history)."""
    rows = DayFact.objects.for_portal(scope.portal).filter(
        Q(metric=f"{entity_type}_open_now", day=STATE_DAY)
        | Q(metric=f"{entity_type}_in_work", day__gt=scope.end, day__lt=STATE_DAY)
    )
    if scope.employees is not None:
        rows = rows.filter(employee_crm_id__in=scope.employees)
    if scope.pipeline is not None and entity_type == "deal":
        rows = rows.filter(pipeline_crm_id=scope.pipeline)
    totals: dict[tuple, tuple[int, int]] = {}
    for row in _totals_by(rows, *by, "metric"):
        sign = 1 if row["metric"].endswith("open_now") else -1
        key = tuple(row[name] for name in by)
        qty, cents = totals.get(key, (0, 0))
        totals[key] = (qty + sign * row["qty"], cents + sign * row["cents"])
    return totals


def _totals_by(rows, *keys: str):
    return rows.values(*keys).annotate(
        qty=Sum("qty"), cents=Sum("amount_cents"), seconds=Sum("seconds")
    )


def efficiency(scope: Scope) -> dict:
    weights = ReportSettings.of(scope.portal).weights
    raw: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    period_metrics = ["deal_won", "deal_lost", *(f"activity_{kind}" for kind in KINDS)]
    for row in _totals_by(_facts(scope, period_metrics), "employee_crm_id", "metric"):
        numbers = raw[row["employee_crm_id"]]
        numbers[f"{row['metric']}_qty"] += row["qty"]
        numbers[f"{row['metric']}_cents"] += row["cents"]
        numbers[f"{row['metric']}_seconds"] += row["seconds"]
    for entity_type in ("deal", "lead"):
        for (employee,), (qty, cents) in in_work(scope, entity_type).items():
            raw[employee][f"{entity_type}_in_work_qty"] += qty
            raw[employee][f"{entity_type}_in_work_cents"] += cents

    names = _employees(scope, {crm_id for crm_id, numbers in raw.items() if any(numbers.values())})
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


def _employees(scope: Scope, with_numbers: set[int]) -> dict[int, str]:
    """Who gets a row: everyone in scope who is active or has a number, in name order."""
    employees = Employee.objects.for_portal(scope.portal)
    if scope.employees is not None:
        employees = employees.filter(crm_id__in=scope.employees)
    listed = employees.filter(Q(active=True) | Q(crm_id__in=with_numbers))
    names = dict(listed.order_by("name").values_list("crm_id", "name"))
    if NO_EMPLOYEE in with_numbers:
        names[NO_EMPLOYEE] = "—"
    return names


def _row(numbers, weights: dict[str, int]) -> dict:
    def qty(metric: str) -> int:
        return int(numbers.get(f"{metric}_qty", 0))

    def money(metric: str) -> float:
        return round(numbers.get(f"{metric}_cents", 0) / 100, 2)

    won, lost = qty("deal_won"), qty("deal_lost")
    row = {name: qty(f"activity_{kind}") for kind, name in KINDS.items()}
    row["activity_points"] = sum(weights.get(kind, 0) * row[name] for kind, name in KINDS.items())
    row["activity_index"] = None
    cycle_seconds = numbers.get("deal_won_seconds", 0)
    row |= {
        "leads_in_work": qty("lead_in_work"),
        "won_count": won,
        "won_sum": money("deal_won"),
        "avg_check": round(money("deal_won") / won, 2) if won else None,
        "win_rate": _ratio(won, won + lost),
        "cycle_days": round(cycle_seconds / 86400 / won, 2) if won else None,
        "lost_count": lost,
        "lost_sum": money("deal_lost"),
        "in_work_count": qty("deal_in_work"),
        "in_work_sum": money("deal_in_work"),
    }
    return {key: row[key] for key in COLUMNS}


def _ratio(part: float, whole: float) -> float | None:
    return round(100 * part / whole, 2) if whole else None


def efficiency_dynamics(scope: Scope, metric: str, *, grain: str = "month") -> dict:
    """One metric per month (or quarter) of the period, per employee and in total."""
    if metric not in DYNAMICS:
        raise ValueError(f"unknown metric {metric!r}")
    weights = ReportSettings.of(scope.portal).weights
    metrics = ["deal_won", "deal_lost", *(f"activity_{kind}" for kind in KINDS)]
    by_bucket: dict[date, dict[int, dict]] = defaultdict(lambda: defaultdict(dict))
    rows = _totals_by(
        _facts(scope, metrics).annotate(month=TruncMonth("day")),
        "month",
        "employee_crm_id",
        "metric",
    )
    for row in rows:
        bucket = period_bucket(row["month"], grain)
        numbers = by_bucket[bucket][row["employee_crm_id"]]
        for suffix, value in (("qty", row["qty"]), ("cents", row["cents"]),
                              ("seconds", row["seconds"])):  # fmt: skip
            key = f"{row['metric']}_{suffix}"
            numbers[key] = numbers.get(key, 0) + value
    buckets = period_buckets(scope.start, scope.end, grain)
    names = _employees(scope, {crm_id for numbers in by_bucket.values() for crm_id in numbers})
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
