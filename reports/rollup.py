"""Sums of the aggregates over a range of days, as cheaply as they can be read: the whole
calendar months inside the range from the monthly rollup, the ragged edges from the days.

A year's report reads about a dozen months per key instead of 365 days, and the edges are at
most two partial months of daily rows.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from django.db.models import BigIntegerField, F, Q, Sum
from django.db.models.functions import Cast, TruncMonth

from crmapp.models import Portal
from reports.models import DayFact, MonthFact
from reports.scope import Scope


def facts_summed(
    portal: Portal,
    *,
    start: date,
    end: date,
    where: Q,
    keys: tuple[str, ...],
    by_month: bool = False,
) -> dict[tuple, list[int]]:
    """{(month?, *keys): [qty, amount_cents, seconds]} of the rows matching `where` whose day
    falls in [start, end]; with `by_month` the key starts with the month's first day."""
    totals: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    for model, first, last in _pieces(start, end):
        field = model.KEY[0]
        rows = model.objects.for_portal(portal).filter(
            where, **{f"{field}__gte": first, f"{field}__lte": last}
        )
        group = list(keys)
        if by_month:
            rows = rows.annotate(bucket=F(field) if model is MonthFact else TruncMonth(field))
            group.insert(0, "bucket")
        summed = (
            rows.values(*group)
            .annotate(sum_qty=_sum("qty"), sum_cents=_sum("amount_cents"), sum_s=_sum("seconds"))
            .values_list(*group, "sum_qty", "sum_cents", "sum_s")
        )
        width = len(group)
        for row in summed:
            values = totals[row[:width]]
            values[0] += row[width]
            values[1] += row[width + 1]
            values[2] += row[width + 2]
    return totals


def _sum(field: str) -> Cast:
    # PostgreSQL sums bigints as numeric, which the driver reads as Decimals (a year's
    # plan reads ~20k rows); the sums fit a bigint by far.
    return Cast(Sum(field), BigIntegerField())


def facts_where(scope: Scope, metrics: list[str]) -> Q:
    """The aggregate rows of `metrics` a scope covers (its employees, its pipeline)."""
    where = Q(metric__in=metrics)
    if scope.employees is not None:
        where &= Q(employee_crm_id__in=scope.employees)
    if scope.pipeline is not None:
        # Leads and activities belong to no pipeline; the pipeline filter narrows deals only.
        where &= Q(pipeline_crm_id=scope.pipeline) | ~Q(metric__startswith="deal_")
    if scope.sources is not None:
        # Activities have no source of their own: the source filter narrows leads and deals.
        where &= Q(source_crm_id__in=scope.sources) | Q(metric__startswith="activity_")
    return where


def _pieces(start: date, end: date) -> list[tuple[type, date, date]]:
    """(table, first, last) covering [start, end]: MonthFact for the whole months (its rows
    are keyed by their first day), DayFact before and after them."""
    if start > end:
        return []
    first_whole = _month_index(start) + (start.day != 1)
    last_whole = _month_index(end) - (not _is_month_end(end))
    if first_whole > last_whole:
        return [(DayFact, start, end)]
    pieces = [(MonthFact, _month_first(first_whole), _month_first(last_whole))]
    if start.day != 1:
        pieces.append((DayFact, start, _month_first(first_whole) - timedelta(days=1)))
    if not _is_month_end(end):
        pieces.append((DayFact, end.replace(day=1), end))
    return pieces


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _month_first(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


def month_after(day: date) -> date:
    """The first day of the month after `day`'s."""
    return _month_first(_month_index(day) + 1)


def _is_month_end(day: date) -> bool:
    return day == date.max or (day + timedelta(days=1)).day == 1
