"""Completion of a scope's plan month to month (or quarter to quarter)."""

from __future__ import annotations

from reports.efficiency import period_bucket, period_buckets, period_label
from reports.plan_fact import plan_fact
from reports.plan_numbers import PlanNumbers, plan_figures
from reports.scope import Scope


def plan_dynamics(
    scope: Scope, metric: str, *, grain: str = "month", data: dict | None = None
) -> dict:
    """Completion of the scope's plan month to month (or quarter to quarter)."""
    data = data or plan_fact(scope, split=False)
    buckets = {bucket: PlanNumbers() for bucket in period_buckets(scope.start, scope.end, grain)}
    for month, numbers in data["totals"].items():
        buckets[period_bucket(month, grain)].add(numbers)
    figures = [plan_figures(numbers, metric) for numbers in buckets.values()]
    return {
        "metric": metric,
        "grain": grain,
        "periods": [period_label(bucket, grain) for bucket in buckets],
        "plan": [f["plan"] for f in figures],
        "fact": [f["fact"] for f in figures],
        "completion": [f["completion"] for f in figures],
    }
