"""Sales dynamics (REPORTS.md "Sales dynamics"): tiles, year-over-year sales, the employees
(the efficiency report's rows and chart), the period's deals by age, stage statistics, long
cycles and the time leads and deals spend in each stage.

Everything counted over days (wins, creations, stage exits, long cycles) is read from the
aggregates; "sitting in a stage now" from their state bucket. Only the period's deals list
and what they are now (their stage, their age) come from the mirror, since both change with
every move and every second.
"""

from __future__ import annotations

import calendar
from collections.abc import Collection
from dataclasses import replace
from datetime import date, datetime, timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from crmapp.models import DEAL_DURATION, Deal, Pipeline, Stage
from crmapp.tiers import window_start
from reports.efficiency import efficiency, efficiency_dynamics
from reports.facts import STATE_DAY
from reports.forgotten import IDLE, deals_flagged, leads_flagged
from reports.metrics import (
    DEAL_CREATED,
    DEAL_WON,
    DEAL_WON_LONG,
    LEAD_CREATED,
    LEAD_CREATED_WON,
    closed_in,
    created_in,
    fact_key,
    in_scope_pipeline,
)
from reports.models import NO_EMPLOYEE, NO_PIPELINE
from reports.people import employee_labels, participants
from reports.repeat_sales import repeat_won_deals
from reports.rollup import facts_summed, facts_where
from reports.scope import Scope

# The efficiency report's columns the employees table shows (its definitions, not copies).
EMPLOYEE_COLUMNS = ["won_count", "won_sum", "lost_count", "in_work_count", "avg_check",
                    "win_rate", "cycle_days"]  # fmt: skip
DEAL_COLUMNS = ["title", "responsible", "pipeline", "stage", "amount", "created", "closed",
                "age_days"]  # fmt: skip
DEAL_SORTS = {"age_days", "amount", "created", "closed", "title"}
# The report's parts a caller may leave out (the page loads them when scrolled to).
PARTS = ("employees", "deals", "stages")
# A cell is slow when its stays last half again as long as the stage's mean.
SLOW_FACTOR = 1.5
DAY = 86400


def dynamics(
    scope: Scope,
    *,
    now: datetime | None = None,
    limit: int | None = None,
    sort: str = "-age_days",
    age_min: float | None = None,
    age_max: float | None = None,
    metric: str = "won_sum",
    stage_employees: bool = True,
    without: Collection[str] = (),
) -> dict:
    """The report; `limit` caps the deals list (a page shows its first rows), never a count;
    without `stage_employees` the time in stages holds each stage's total alone; the PARTS
    named in `without` are None (the page loads them when scrolled to)."""
    now = now or timezone.now()
    ages = {"age_min": age_min, "age_max": age_max}
    deals = (
        period_list(scope, sort=sort, now=now, limit=limit, **ages)
        if "deals" not in without
        else {"deals": None, "deals_total": None}
    )
    stats = (
        stage_statistics(scope, now=now)
        if "stages" not in without
        else dict.fromkeys(("stages", "pipelines", "totals"))
    )
    people = (
        employees_part(scope, metric=metric, now=now)
        if "employees" not in without
        else dict.fromkeys(("employees", "employee_dynamics"))
    )
    return {
        "report": "dynamics",
        "from": scope.start.isoformat(),
        "to": scope.end.isoformat(),
        "currency": scope.portal.currency,
        "tiles": tiles(scope, now=now),
        "months": sales_months(scope, now=now),
        "years": sales_years(scope, now=now),
        **people,
        **deals,
        "stages": stats["stages"],
        "stage_pipelines": stats["pipelines"],
        "stage_totals": stats["totals"],
        "long_cycles": long_cycles(scope, now=now),
        "durations": {
            kind: stage_durations(scope, kind, now=now, split=stage_employees)
            for kind in ("deal", "lead")
        },
    }


# -- periods ---------------------------------------------------------------------------------


def month_first(day: date, back: int = 0) -> date:
    index = day.year * 12 + day.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


def month_last(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _oldest(scope: Scope, now: datetime) -> date:
    return window_start(scope.portal, now=now).astimezone(scope.zone).date()


def over(scope: Scope, start: date, end: date, *, now: datetime) -> Scope:
    """The same employees and pipeline over other days, within the tier's window."""
    start = max(start, _oldest(scope, now))
    return replace(scope, start=start, end=max(start, end), requested_start=None)


def year_scope(scope: Scope, *, now: datetime) -> Scope:
    """The 12 months ending with the period's end month."""
    return over(scope, month_first(scope.end, 11), month_last(scope.end), now=now)


def month_to_date(today: date) -> tuple[tuple[date, date], tuple[date, date]]:
    """[1st, today] and [1st of last month, the same day of it]; the 29th–31st of a month
    whose predecessor is shorter compare with that month's last day."""
    last_first = month_first(today, 1)
    same_day = min(today.day, calendar.monthrange(last_first.year, last_first.month)[1])
    return (today.replace(day=1), today), (last_first, last_first.replace(day=same_day))


# -- figures ---------------------------------------------------------------------------------


def _summed(scope: Scope, metrics: list[str], keys=("metric",), narrow=None, **kwargs) -> dict:
    return facts_summed(
        scope.portal,
        start=kwargs.pop("start", scope.start),
        end=kwargs.pop("end", scope.end),
        where=facts_where(scope, metrics) & (narrow or Q()),
        keys=keys,
        **kwargs,
    )


def _money(cents: int) -> float:
    return round(cents / 100, 2)


def _share(part: float, whole: float) -> float | None:
    return round(100 * part / whole, 2) if whole else None


def _won(scope: Scope) -> tuple[int, int]:
    qty, cents, _ = _summed(scope, [DEAL_WON]).get((DEAL_WON,), [0, 0, 0])
    return qty, cents


def tiles(scope: Scope, *, now: datetime) -> dict:
    summed = _summed(scope, [LEAD_CREATED, LEAD_CREATED_WON, DEAL_CREATED, DEAL_WON])

    def qty(metric: str) -> int:
        return summed.get((metric,), [0, 0, 0])[0]

    won, won_cents, cycle = summed.get((DEAL_WON,), [0, 0, 0])
    repeat = repeat_won_deals(scope).aggregate(qty=Count("id"), amount=Sum("amount"))
    repeat_qty, repeat_cents = repeat["qty"], int((repeat["amount"] or 0) * 100)
    this, last = month_to_date(now.astimezone(scope.zone).date())
    now_qty, now_cents = _won(over(scope, *this, now=now))
    then_qty, then_cents = _won(over(scope, *last, now=now))
    return {
        "leads_received": qty(LEAD_CREATED),
        "leads_converted": qty(LEAD_CREATED_WON),
        "conversion": _share(qty(LEAD_CREATED_WON), qty(LEAD_CREATED)),
        "forgotten_leads": leads_flagged(scope, now=now).count(),
        "deals_created": qty(DEAL_CREATED),
        "won_count": won,
        "won_sum": _money(won_cents),
        "avg_check": _money(won_cents / won) if won else None,
        "cycle_days": round(cycle / DAY / won, 2) if won else None,
        "forgotten_deals": deals_flagged(scope, now=now, reasons=(IDLE,)).count(),
        "new_sales": won - repeat_qty,
        "new_sales_sum": _money(won_cents - repeat_cents),
        "repeat_sales": repeat_qty,
        "repeat_sales_sum": _money(repeat_cents),
        "repeat_share": _share(repeat_qty, won),
        "month_to_date": {
            "from": this[0].isoformat(),
            "to": this[1].isoformat(),
            "won_count": now_qty,
            "won_sum": _money(now_cents),
            "last_from": last[0].isoformat(),
            "last_to": last[1].isoformat(),
            "last_won_count": then_qty,
            "last_won_sum": _money(then_cents),
            "won_count_change": _share(now_qty - then_qty, then_qty),
            "won_sum_change": _share(now_cents - then_cents, then_cents),
        },
    }


def _won_by_month(scope: Scope, start: date, end: date, *, now: datetime) -> dict[date, list]:
    wide = over(scope, start, end, now=now)
    return {
        month: values
        for (month, _metric), values in _summed(
            wide, [DEAL_WON], start=wide.start, end=wide.end, by_month=True
        ).items()
    }


def sales_months(scope: Scope, *, now: datetime) -> list[dict]:
    """Won count and sum of the 12 months ending with P's end month, and a year before."""
    first = month_first(scope.end, 11)
    won = _won_by_month(scope, month_first(first, 12), month_last(scope.end), now=now)
    rows = []
    for back in range(11, -1, -1):
        month, before = month_first(scope.end, back), month_first(scope.end, back + 12)
        (qty, cents, _), (qty_before, cents_before, _) = (
            won.get(month, [0, 0, 0]),
            won.get(before, [0, 0, 0]),
        )
        rows.append(
            {
                "month": month.strftime("%Y-%m"),
                "won_count": qty,
                "won_sum": _money(cents),
                "won_count_year_before": qty_before,
                "won_sum_year_before": _money(cents_before),
            }
        )
    return rows


def sales_years(scope: Scope, *, now: datetime) -> list[dict]:
    """The "year" grain: the last three calendar years (to P's end year), each with the one
    before."""
    year = scope.end.year
    won = _won_by_month(scope, date(year - 3, 1, 1), date(year, 12, 31), now=now)
    totals: dict[int, list[int]] = {}
    for month, (qty, cents, _) in won.items():
        had = totals.setdefault(month.year, [0, 0])
        had[0] += qty
        had[1] += cents
    return [
        {
            "year": str(y),
            "won_count": totals.get(y, [0, 0])[0],
            "won_sum": _money(totals.get(y, [0, 0])[1]),
            "won_count_year_before": totals.get(y - 1, [0, 0])[0],
            "won_sum_year_before": _money(totals.get(y - 1, [0, 0])[1]),
        }
        for y in range(year - 2, year + 1)
    ]


def employees_part(scope: Scope, *, metric: str, now: datetime) -> dict:
    """The employees' rows of the period, and one metric of theirs month by month over
    the year ending with it."""
    return {
        "employees": employee_rows(scope),
        "employee_dynamics": efficiency_dynamics(year_scope(scope, now=now), metric),
    }


def employee_rows(scope: Scope) -> list[dict]:
    rows = efficiency(scope)["employees"]
    return [
        {"id": row["id"], "name": row["name"], **{key: row[key] for key in EMPLOYEE_COLUMNS}}
        for row in rows
    ]


def long_cycles(scope: Scope, *, now: datetime) -> dict:
    """The share of the deals won in P whose cycle is over 180 days, and per month over the
    12 months ending at P's end."""
    metrics = [DEAL_WON, DEAL_WON_LONG]
    period = _summed(scope, metrics)
    won, long = period.get((DEAL_WON,), [0])[0], period.get((DEAL_WON_LONG,), [0])[0]
    year = year_scope(scope, now=now)
    monthly = _summed(year, metrics, start=year.start, end=year.end, by_month=True)
    months = []
    for back in range(11, -1, -1):
        month = month_first(scope.end, back)
        month_won = monthly.get((month, DEAL_WON), [0])[0]
        month_long = monthly.get((month, DEAL_WON_LONG), [0])[0]
        months.append(
            {
                "month": month.strftime("%Y-%m"),
                "won": month_won,
                "long": month_long,
                "share": _share(month_long, month_won),
            }
        )
    return {"won": won, "long": long, "share": _share(long, won), "months": months}


# -- the period's deals ------------------------------------------------------------------------


def _age(now: datetime):
    return ExpressionWrapper(
        Coalesce(F("closed_at"), Value(now)) - F("created_at"), output_field=DurationField()
    )


def period_deals(
    scope: Scope,
    *,
    now: datetime,
    age_min: float | None = None,
    age_max: float | None = None,
):
    """Deals created in P or won or lost in P, with their age ((close or now) − creation)."""
    span = scope.span()
    return _period(scope, created_in(span) | closed_in(span), now, age_min, age_max)


def period_list(scope: Scope, *, sort: str, now: datetime, limit: int | None, **ages) -> dict:
    """{"deals": the period's first `limit` deals in `sort` order, "deals_total": how many
    there are}."""
    parts = period_parts(scope, now=now, **ages)
    created, closed = parts
    if all(bound is None for bound in ages.values()):  # the creations' aggregate counts them
        created_total = _summed(scope, [DEAL_CREATED]).get((DEAL_CREATED,), [0])[0]
    else:
        created_total = created.count()
    first = _first_deals(scope, sort, parts, now=now, limit=limit, **ages)
    return {
        "deals": deal_rows(scope, first, now=now),
        "deals_total": created_total + closed.count(),
    }


def period_parts(scope: Scope, *, now: datetime, age_min=None, age_max=None) -> list:
    """The period's deals as two disjoint sets, those created in P and those closed in P
    but created outside it, each read from one index (creation, closing) alone: one OR of
    the two dates made PostgreSQL fetch every wide row of a year's deals."""
    span = scope.span()
    return [
        _period(scope, created_in(span), now, age_min, age_max),
        _period(scope, closed_in(span) & ~created_in(span), now, age_min, age_max),
    ]


def _period(scope: Scope, where: Q, now: datetime, age_min, age_max):
    rows = Deal.objects.for_portal(scope.portal).filter(where)
    if scope.employees is not None:
        rows = rows.filter(responsible_in(scope))
    rows = in_scope_pipeline(scope, rows)
    rows = rows.annotate(age=_age(now))
    if age_min is not None:
        rows = rows.filter(age__gte=timedelta(days=age_min))
    if age_max is not None:
        rows = rows.filter(age__lte=timedelta(days=age_max))
    return rows


def _first_deals(scope: Scope, sort: str, parts: list, *, now: datetime, limit: int | None,
                 **ages):  # fmt: skip
    """The period's deals in `sort` order (the first `limit`): each of `parts` (period_parts)
    has its first rows picked from its index, merged, and only the page's rows read whole."""
    rows = sorted_deals(period_deals(scope, now=now, **ages), sort)
    column = sort.removeprefix("-")
    if limit is None or column == "title":  # no index holds the title
        return rows[:limit] if limit is not None else rows
    field = {"age_days": "age", "created": "created_at", "closed": "closed_at"}.get(column, column)
    created, closed = parts
    if column == "age_days":  # ordered by age, each piece by the index that holds that order
        pieces = [_by_age(created, sort, closed=False), _by_age(created, sort, closed=True),
                  _by_age(closed, sort, closed=True)]  # fmt: skip
    else:
        pieces = [sorted_deals(part, sort) for part in (created, closed)]
    picked = []
    for piece in pieces:
        picked += piece.values_list("pk", field, "crm_id")[:limit]
    # The database's order: the value (nulls last either way), then the CRM id.
    picked.sort(key=lambda row: row[2])
    present = [row for row in picked if row[1] is not None]
    present.sort(key=lambda row: row[1], reverse=sort.startswith("-"))
    first = [row[0] for row in (present + [row for row in picked if row[1] is None])[:limit]]
    return rows.filter(pk__in=first)


def _by_age(rows, sort: str, *, closed: bool):
    """`rows` of one state in age order, then by CRM id: a closed deal's age is its fixed
    duration, an open one's grows from its creation (the older, the longer)."""
    descending = sort.startswith("-")
    if closed:
        order = DEAL_DURATION.desc() if descending else DEAL_DURATION.asc()
    else:
        order = F("created_at").asc() if descending else F("created_at").desc()
    return rows.filter(closed_at__isnull=not closed).order_by(order, "crm_id")


def responsible_in(scope: Scope) -> Q:
    """The scope's employees; the aggregates' "no one" (NO_EMPLOYEE, the "—" row) is an
    entity without a responsible."""
    wanted = Q(responsible__crm_id__in=scope.employees)
    return wanted | Q(responsible__isnull=True) if NO_EMPLOYEE in scope.employees else wanted


def sorted_deals(rows, sort: str):
    column, descending = sort.removeprefix("-"), sort.startswith("-")
    if column not in DEAL_SORTS:
        raise ValueError(f"unknown column to sort the deals by: {sort!r}")
    field = {"age_days": "age", "created": "created_at", "closed": "closed_at"}.get(column, column)
    order = F(field).desc(nulls_last=True) if descending else F(field).asc(nulls_last=True)
    return rows.order_by(order, "crm_id")


def deal_rows(scope: Scope, rows, *, now: datetime) -> list[dict]:
    values = rows.values(
        "crm_id", "title", "amount", "created_at", "closed_at", "age",
        responsible_name=F("responsible__name"), pipeline_name=F("pipeline__name"),
        stage_name=F("stage__name"),
    )  # fmt: skip
    return [
        {
            "id": str(row["crm_id"]),
            "title": row["title"],
            "responsible": row["responsible_name"] or "—",
            "pipeline": row["pipeline_name"] or "",
            "stage": row["stage_name"] or "",
            "amount": round(float(row["amount"]), 2),
            "created": _local(scope, row["created_at"]),
            "closed": _local(scope, row["closed_at"]),
            "age_days": round(row["age"].total_seconds() / DAY, 2),
        }
        for row in values
    ]


def _local(scope: Scope, moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(scope.zone).isoformat(timespec="seconds")


# -- stage statistics --------------------------------------------------------------------------


def _stat(count: int, cents: int, age_seconds: float) -> dict:
    return {
        "count": count,
        "sum": _money(cents),
        "mean_age_days": round(age_seconds / DAY / count, 2) if count else None,
    }


def stage_statistics(scope: Scope, *, now: datetime) -> dict:
    """The period's deals by the stage they are in now, each pipeline's stages in CRM order,
    with a row per pipeline and totals for won, lost and in work."""
    # By the rows' own ids (the index holds them), named after the grouping.
    grouped = [
        row
        for part in period_parts(scope, now=now)
        for row in part.values("pipeline_id", "stage_id", "semantic")
        .annotate(count=Count("id"), amount=Sum("amount"), age_sum=Sum("age"))
        .order_by()
    ]
    pipelines = Pipeline.objects.for_portal(scope.portal).order_by("sort", "name")
    stages = Stage.objects.for_portal(scope.portal).filter(entity_type="deal")
    pipeline_ids = dict(pipelines.values_list("pk", "crm_id"))
    stage_ids = dict(stages.values_list("pk", "crm_id"))
    by_stage: dict[tuple, list] = {}
    totals = {state: [0, 0, 0.0] for state in ("won", "lost", "in_work")}
    for row in grouped:
        numbers = [row["count"], int((row["amount"] or 0) * 100), _seconds(row["age_sum"])]
        key = (pipeline_ids.get(row["pipeline_id"]), stage_ids.get(row["stage_id"]))
        had = by_stage.setdefault(key, [0, 0, 0.0])
        state = totals["in_work" if row["semantic"] == "open" else row["semantic"]]
        for index in range(3):
            had[index] += numbers[index]
            state[index] += numbers[index]
    stage_rows, pipeline_rows = [], []
    for pipeline in pipelines:
        summed = [0, 0, 0.0]
        for stage in stages.filter(pipeline=pipeline).order_by("sort", "crm_id"):
            numbers = by_stage.pop((pipeline.crm_id, stage.crm_id), [0, 0, 0.0])
            summed = [a + b for a, b in zip(summed, numbers, strict=True)]
            stage_rows.append(
                {
                    "pipeline": pipeline.name,
                    "pipeline_id": str(pipeline.crm_id),
                    "id": stage.crm_id,
                    "name": stage.name,
                    "semantic": stage.semantic,
                    **_stat(*numbers),
                }
            )
        for (pipeline_id, stage_id), numbers in list(by_stage.items()):
            if pipeline_id == pipeline.crm_id:  # a stage the directory no longer lists
                summed = [a + b for a, b in zip(summed, numbers, strict=True)]
                stage_rows.append(
                    {
                        "pipeline": pipeline.name,
                        "pipeline_id": str(pipeline.crm_id),
                        "id": stage_id or "",
                        "name": stage_id or "—",
                        "semantic": "",
                        **_stat(*by_stage.pop((pipeline_id, stage_id))),
                    }
                )
        if scope.pipeline is None or scope.pipeline == pipeline.crm_id:
            pipeline_rows.append(
                {"id": str(pipeline.crm_id), "name": pipeline.name, **_stat(*summed)}
            )
    if scope.pipeline is not None:
        stage_rows = [row for row in stage_rows if row["pipeline_id"] == str(scope.pipeline)]
    return {
        "stages": stage_rows,
        "pipelines": pipeline_rows,
        "totals": {state: _stat(*numbers) for state, numbers in totals.items()},
    }


def _seconds(value) -> float:
    """A summed duration: a timedelta, or microseconds where the database has no interval."""
    if value is None:
        return 0.0
    if isinstance(value, timedelta):
        return value.total_seconds()
    return value / 1_000_000


# -- stage durations ---------------------------------------------------------------------------


def stage_durations(
    scope: Scope, entity_type: str, *, now: datetime, split: bool = True, stage=None
) -> list[dict]:
    """Per stage × employee (the responsible now): the stays that ended in P and their mean
    length; the entities sitting in the stage now and their mean days there so far. A total
    row per stage (`employee_id` None, `employees` the rows it splits into) follows its
    employees; a cell is `slow` when its mean exceeds the stage's total mean by SLOW_FACTOR.
    Without `split` only the totals; with `stage` (pipeline id, stage id) only that stage's
    rows (a page opens a stage to its employees on demand: 200 sellers × every stage were
    most of its HTML)."""
    keys = ("employee_crm_id", "pipeline_crm_id", "stage_crm_id")
    narrow = None if stage is None else Q(pipeline_crm_id=stage[0], stage_crm_id=stage[1])
    exits = _summed(scope, [fact_key(entity_type, "stage_out")], keys=keys, narrow=narrow)
    sitting = _summed(scope, [fact_key(entity_type, "stage_now")], keys=keys, narrow=narrow,
                      start=STATE_DAY, end=STATE_DAY)  # fmt: skip
    cells: dict[tuple, dict] = {}
    for source, names in ((exits, ("exits", "exit_seconds")), (sitting, ("now", "since"))):
        for (employee, *where), (qty, _cents, seconds) in source.items():
            if qty:
                cell = cells.setdefault(tuple(where), {}).setdefault(employee, {})
                cell[names[0]], cell[names[1]] = qty, seconds
    labels = employee_labels(scope.portal, {e for cell in cells.values() for e in cell})
    chosen = participants(scope.portal)
    order, pipeline_names, stage_names = _stage_order(scope, entity_type)
    moment = now.timestamp()
    rows = []
    for pipeline, stage_id in sorted(cells, key=lambda key: order.get(key, (9999, 9999, key[1]))):
        by_employee = cells[(pipeline, stage_id)]
        total = _duration_figures(_cells_summed(by_employee.values()), moment)
        where = {
            "pipeline": pipeline_names.get(pipeline, ""),
            "pipeline_id": None if pipeline == NO_PIPELINE else str(pipeline),
            "stage": stage_names.get(stage_id, stage_id),
            "stage_id": stage_id,
        }
        # Not taking part (Settings): his stays still count in the total.
        named = [(e, cell) for e, cell in by_employee.items() if chosen is None or e in chosen]
        named.sort(key=lambda item: (labels.get(item[0], "—").casefold(), item[0]))
        for employee, cell in named if split else ():
            figures = _duration_figures(cell, moment)
            slow = {
                key: bool(figures[key] and total[key] and figures[key] > SLOW_FACTOR * total[key])
                for key in ("mean_days", "now_mean_days")
            }
            rows.append(
                {
                    "employee": labels.get(employee, "—"),
                    "employee_id": str(employee),
                    **where,
                    **figures,
                    "slow": slow,
                }
            )
        total_row = {"employee": None, "employee_id": None, **where, **total, "slow": {}}
        rows.append(total_row | {"employees": len(named)})
    return rows


def _cells_summed(cells) -> dict:
    summed = {"exits": 0, "exit_seconds": 0, "now": 0, "since": 0}
    for cell in cells:
        for key in summed:
            summed[key] += cell.get(key, 0)
    return summed


def _duration_figures(cell: dict, moment: float) -> dict:
    exits, sitting = cell.get("exits", 0), cell.get("now", 0)
    return {
        "exits": exits,
        "mean_days": round(cell["exit_seconds"] / exits / DAY, 2) if exits else None,
        "now": sitting,
        "now_mean_days": round((moment - cell["since"] / sitting) / DAY, 2) if sitting else None,
    }


def _stage_order(scope: Scope, entity_type: str):
    """(pipeline, stage) → its place in CRM order, and the pipelines' and stages' names."""
    pipelines = {
        p.crm_id: (index, p.name)
        for index, p in enumerate(
            Pipeline.objects.for_portal(scope.portal).order_by("sort", "name")
        )
    }
    order, stage_names = {}, {}
    rows = Stage.objects.for_portal(scope.portal).filter(entity_type=entity_type)
    for stage in rows.values("crm_id", "name", "sort", "pipeline__crm_id"):
        pipeline = stage["pipeline__crm_id"]
        pipeline = NO_PIPELINE if pipeline is None or entity_type == "lead" else pipeline
        place = pipelines.get(pipeline, (-1, ""))[0]
        order[(pipeline, stage["crm_id"])] = (place, stage["sort"], stage["crm_id"])
        stage_names[stage["crm_id"]] = stage["name"]
    return order, {crm_id: name for crm_id, (_, name) in pipelines.items()}, stage_names


# -- the export ------------------------------------------------------------------------------

TABLES = ("tiles", "months", "years", "employees", "deals", "stages", "stage_pipelines",
          "long_cycles", "deal_durations", "lead_durations")  # fmt: skip


# The tables each part a caller may leave out (PARTS) is the only source of.
PART_TABLES = {"employees": ("employees",), "deals": ("deals",),
               "stages": ("stages", "stage_pipelines")}  # fmt: skip


def parts_unneeded(table: str | None) -> tuple[str, ...]:
    """The PARTS one table's export can leave out (a year's deals list is ~600k rows)."""
    return tuple(part for part in PARTS if table is not None and table not in PART_TABLES[part])


def dynamics_tables(data: dict, table: str | None = None) -> dict[str, list[dict]]:
    """The report's blocks as flat tables (one .xlsx sheet each), or only `table` (then the
    parts it needs not, `parts_unneeded(table)`, may be missing from `data`)."""
    if table is not None and table not in TABLES:
        raise ValueError(f"no table {table!r}; tables: {', '.join(TABLES)}")

    def tiles() -> list[dict]:
        numbers = dict(data["tiles"])
        month_to_date = numbers.pop("month_to_date")
        return [{"metric": key, "value": value} for key, value in numbers.items()] + [
            {"metric": f"month_to_date_{key}", "value": v} for key, v in month_to_date.items()
        ]

    def long_rows() -> list[dict]:
        cycles = data["long_cycles"]
        return [{"month": "", **{k: v for k, v in cycles.items() if k != "months"}},
                *cycles["months"]]  # fmt: skip

    tables = {
        "tiles": tiles,
        "months": lambda: data["months"],
        "years": lambda: data["years"],
        "employees": lambda: data["employees"],
        "deals": lambda: data["deals"],
        "stages": lambda: data["stages"],
        "stage_pipelines": lambda: data["stage_pipelines"]
        + [{"id": "", "name": state, **numbers} for state, numbers in data["stage_totals"].items()],
        "long_cycles": long_rows,
        "deal_durations": lambda: [_flat(row) for row in data["durations"]["deal"]],
        "lead_durations": lambda: [_flat(row) for row in data["durations"]["lead"]],
    }  # fmt: skip
    return {name: build() for name, build in tables.items() if table in (None, name)}


def _flat(row: dict) -> dict:
    flat = {key: value for key, value in row.items() if key not in ("slow", "employees")}
    if flat["employee_id"] is None:
        flat["employee"] = "Σ"
    return flat
