"""Marketing (REPORTS.md "Marketing"): leads and the deals they bring, by source and UTM.

Every figure is counted by the lead's or deal's own source and UTM fields, so the source
table, the UTM tree, the months and the dynamics share one counting function
(`marketing_numbers`) grouped by different keys. Returns plain data in REPORTS.md's JSON
shape; pages, exports, the API and the CLI render the same dict.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection
from datetime import date, datetime, timedelta

from django.db import connection
from django.db.models import (
    CharField,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Sum,
    Value,
)
from django.db.models.functions import TruncDay, TruncMonth, TruncWeek
from django.utils import timezone

from crmapp.models import Activity, Deal, Lead, Semantic, Stage, StageChange
from integrations.registry import card_path, card_url
from reports.efficiency import period_bucket, period_buckets, period_label
from reports.metrics import (
    DEAL_WON,
    IS_WON,
    LEAD_CREATED_LOST,
    LEAD_CREATED_WON,
    LEAD_LOST,
    LEAD_RECEIVED,
    LEAD_WON,
    OWNER_CALLS,
    closed_in,
    created_in,
    in_scope_pipeline,
    of_scope_employees,
    won_in,
)
from reports.models import ReportSettings
from reports.people import employee_labels
from reports.rollup import facts_summed, facts_where
from reports.scope import UTM_FIELDS, Scope, entities_selected
from reports.sources import source_names
from reports.spend import spend_in_period

STATES = ("new", "in_work", "qualified", "unqualified")
ROW_FIGURES = (
    "received", *STATES, "closed", "converted", "conversion", "processing_days",
    "won_count", "won_sum", "cohort_revenue", "spend", "cost_per_lead", "romi", "roi",
)  # fmt: skip
DYNAMICS_METRICS = ("received", "unqualified", "in_work", "won_count", "won_sum")
TOP_SOURCES = 5
DAILY_UP_TO = 62  # days: a longer period's top-5 series is weekly
# What the lead list shows on a page; the export, the API and the CLI hold every lead.
LEAD_LIST_LIMIT = 200
Key = tuple


def lead_state(semantic: str, status_id: int | None, first_status_id: int | None) -> str:
    """REPORTS.md "Lead states": converted, junk, still in the first open status, or in work."""
    if semantic == Semantic.WON:
        return "qualified"
    if semantic == Semantic.LOST:
        return "unqualified"
    return "new" if status_id == first_status_id else "in_work"


def lead_statuses(portal) -> list[Stage]:
    """The portal's lead statuses in CRM order (SORT)."""
    return list(Stage.objects.for_portal(portal).filter(entity_type="lead").order_by("sort", "id"))


def first_status_id(statuses: list[Stage]) -> int | None:
    return next((s.pk for s in statuses if s.semantic == Semantic.OPEN), None)


def received_leads(scope: Scope, *, start: datetime | None = None, end: datetime | None = None):
    """The leads created in the period (or in [start, end]) the scope selects."""
    span = (start, end) if start else scope.span()
    return entities_selected(scope, Lead.objects.for_portal(scope.portal)).filter(created_in(span))


def closed_leads(scope: Scope):
    """The leads whose latest entry into a converted or junk status falls in the period."""
    return entities_selected(scope, Lead.objects.for_portal(scope.portal)).filter(
        closed_in(scope.span())
    )


def won_deals(scope: Scope, *, start: datetime | None = None, end: datetime | None = None):
    """DESIGN's won deals of the period the scope selects (their own source and UTM)."""
    span = (start, end) if start else scope.span()
    deals = entities_selected(scope, Deal.objects.for_portal(scope.portal))
    return in_scope_pipeline(scope, deals).filter(won_in(span))


def cohort_deals(scope: Scope, received):
    """The deals won at any time whose lead is one of `received` (the cohort's revenue)."""
    deals = of_scope_employees(scope, Deal.objects.for_portal(scope.portal))
    return in_scope_pipeline(scope, deals).filter(IS_WON, lead_crm_id__in=received.values("crm_id"))


def marketing_numbers(
    scope: Scope, keys: tuple[str, ...], *, by_month: bool = False
) -> dict[Key, Counter]:
    """Raw counts of the period grouped by the leads' and deals' own `keys` fields (and the
    month first, with `by_month`): received and their states now, closed and converted with
    their seconds, won count and cents, cohort count and cents. By source (and without a UTM
    filter) they are read from the aggregates; the UTM fields are the mirror's alone."""
    if keys == ("source",) and not scope.utm:
        numbers = _source_numbers(scope, by_month=by_month)
    else:
        numbers = _mirror_numbers(scope, keys, by_month=by_month)
    _cohort_numbers(scope, keys, numbers, by_month=by_month)
    return numbers


FACT_METRICS = [LEAD_RECEIVED, LEAD_CREATED_WON, LEAD_CREATED_LOST, LEAD_WON,
                LEAD_LOST, DEAL_WON]  # fmt: skip


def _source_numbers(scope: Scope, *, by_month: bool) -> dict[Key, Counter]:
    """The aggregates' part: `lead_received` holds the received leads by their status now,
    `lead_created_won|lost` the converted and junk of them, `lead_won|lost` the leads closed
    (with their seconds), `deal_won` the won deals, each by the entity's own source."""
    first = _first_crm_id(lead_statuses(scope.portal))
    summed = facts_summed(
        scope.portal, start=scope.start, end=scope.end, where=facts_where(scope, FACT_METRICS),
        keys=("source_crm_id", "metric", "stage_crm_id"), by_month=by_month,
    )  # fmt: skip
    numbers: dict[Key, Counter] = defaultdict(Counter)
    for key, (qty, cents, seconds) in summed.items():
        *group, metric, stage = key
        counted = numbers[tuple(_month(part) if isinstance(part, date) else part for part in group)]
        if metric == LEAD_RECEIVED:
            counted["received"] += qty
            counted["open"] += qty
            counted["new"] += qty if stage == first else 0
        elif metric in (LEAD_CREATED_WON, LEAD_CREATED_LOST):
            state = "qualified" if metric == LEAD_CREATED_WON else "unqualified"
            counted[state] += qty
            counted["open"] -= qty
        elif metric in (LEAD_WON, LEAD_LOST):
            counted["closed"] += qty
            counted["converted"] += qty if metric == LEAD_WON else 0
            counted["close_seconds"] += seconds
        else:
            counted["won_count"] += qty
            counted["won_cents"] += cents
    for counted in numbers.values():
        counted["in_work"] = counted.pop("open", 0) - counted["new"]
    return numbers


def _mirror_numbers(scope: Scope, keys: tuple[str, ...], *, by_month: bool) -> dict[Key, Counter]:
    first = first_status_id(lead_statuses(scope.portal))
    numbers: dict[Key, Counter] = defaultdict(Counter)
    received = received_leads(scope)
    rows, fields = _grouped(scope, received, "created_at", keys, by_month)
    for row in rows.values(*fields, "semantic", "status_id").annotate(n=Count("id")):
        counted = numbers[_key(row, fields)]
        counted["received"] += row["n"]
        counted[lead_state(row["semantic"], row["status_id"], first)] += row["n"]

    rows, fields = _grouped(scope, closed_leads(scope), "closed_at", keys, by_month)
    took = ExpressionWrapper(F("closed_at") - F("created_at"), output_field=DurationField())
    for row in rows.values(*fields, "semantic").annotate(n=Count("id"), took=Sum(took)):
        counted = numbers[_key(row, fields)]
        counted["closed"] += row["n"]
        counted["converted"] += row["n"] if row["semantic"] == Semantic.WON else 0
        counted["close_seconds"] += int(row["took"].total_seconds()) if row["took"] else 0

    rows, fields = _grouped(scope, won_deals(scope), "closed_at", keys, by_month)
    for row in rows.values(*fields).annotate(n=Count("id"), amount=Sum("amount")):
        counted = numbers[_key(row, fields)]
        counted["won_count"] += row["n"]
        counted["won_cents"] += int((row["amount"] or 0) * 100)
    return numbers


def _cohort_numbers(scope: Scope, keys: tuple[str, ...], numbers: dict[Key, Counter], *,
                    by_month: bool) -> None:  # fmt: skip
    """The won deals of the received leads, under their lead's keys (and creation month)."""
    received = received_leads(scope)
    rows, fields = _grouped(scope, received, "created_at", keys, by_month)
    cohort = cohort_deals(scope, received).values("lead_crm_id")
    leads = rows.filter(crm_id__in=cohort).values_list("crm_id", *fields)
    lead_keys = {row[0]: _key(dict(zip(fields, row[1:], strict=True)), fields) for row in leads}
    for lead_id, amount in cohort_deals(scope, received).values_list("lead_crm_id", "amount"):
        counted = numbers[lead_keys[lead_id]]
        counted["cohort_count"] += 1
        counted["cohort_cents"] += int(amount * 100)


def _grouped(scope: Scope, rows, field: str, keys: tuple[str, ...], by_month: bool):
    if not by_month:
        return rows, list(keys)
    return rows.annotate(bucket=TruncMonth(field, tzinfo=scope.zone)), ["bucket", *keys]


def _key(row: dict, fields: list[str]) -> Key:
    return tuple(_month(row[f]) if f == "bucket" else row[f] for f in fields)


def _month(value) -> date:
    return (value.date() if isinstance(value, datetime) else value).replace(day=1)


def marketing_row(numbers: Counter, margin: float | None) -> dict:
    """REPORTS.md's row figures from raw counts (money with two decimals, null ratios)."""
    received, closed = numbers["received"], numbers["closed"]
    spend = numbers["spend_cents"] / 100
    won_sum = numbers["won_cents"] / 100
    return {
        "received": received,
        **{state: numbers[state] for state in STATES},
        "closed": closed,
        "converted": numbers["converted"],
        "conversion": _percent(numbers["converted"], closed),
        "processing_days": round(numbers["close_seconds"] / 86400 / closed, 2) if closed else None,
        "won_count": numbers["won_count"],
        "won_sum": round(won_sum, 2),
        "cohort_revenue": round(numbers["cohort_cents"] / 100, 2),
        "spend": round(spend, 2),
        "cost_per_lead": round(spend / received, 2) if received else None,
        "romi": round(100 * (won_sum - spend) / spend, 2) if spend else None,
        "roi": (
            round(100 * (won_sum * margin / 100 - spend) / spend, 2)
            if spend and margin is not None
            else None
        ),
    }


def _percent(part: float, whole: float) -> float | None:
    return round(100 * part / whole, 2) if whole else None


def _summed(counters) -> Counter:
    total = Counter()
    for numbers in counters:
        total.update(numbers)
    return total


# The report's parts a caller may leave out (the page loads them when opened or scrolled to).
PARTS = ("months", "stages", "top", "utm", "matrix")


def marketing(scope: Scope, *, now: datetime | None = None, lead_limit: int | None = None,
              without: Collection[str] = ()) -> dict:  # fmt: skip
    """The report: per source and totals, the UTM tree, stage reach, the funnel, the top
    five, calls by source, the lead list and the employee × status matrix; the PARTS named
    in `without` are None."""
    now = now or timezone.now()
    margin = marketing_margin(scope.portal)
    names = source_names(scope.portal)
    by_source = marketing_numbers(scope, ("source",))
    add_spend(scope, by_source, ("source",))
    sources = sorted(
        (
            {"id": source, "name": names.get(source, source)} | marketing_row(numbers, margin)
            for (source,), numbers in by_source.items()
        ),
        key=lambda row: (-row["received"], -row["won_sum"], row["name"].casefold()),
    )
    total = _summed(by_source.values())
    received = received_leads(scope)
    return {
        "report": "marketing",
        "from": scope.start.isoformat(),
        "to": scope.end.isoformat(),
        "currency": scope.portal.currency,
        "margin": margin,
        "sources": sources,
        "totals": marketing_row(total, margin),
        "months": marketing_months(scope, margin, names) if "months" not in without else None,
        "utm": utm_tree(scope, margin) if "utm" not in without else None,
        "stages": stage_reach(scope, received) if "stages" not in without else None,
        "funnel": {
            "received": total["received"],
            "converted": total["qualified"],
            "won_count": total["cohort_count"],
            "won_sum": round(total["cohort_cents"] / 100, 2),
        },
        "top": top_sources(scope, names) if "top" not in without else None,
        "calls": calls_by_source(scope, names),
        "leads": lead_list(scope, received, names, now=now, limit=lead_limit),
        "leads_total": total["received"],
        "matrix": status_matrix(scope, received) if "matrix" not in without else None,
    }


def marketing_months(scope: Scope, margin: float | None, names: dict[str, str]) -> list[dict]:
    """The source table's rows by month of the period, each source's in month order."""
    months = marketing_numbers(scope, ("source",), by_month=True)
    add_spend(scope, months, ("source",), by_month=True)
    return [
        {"month": month.strftime("%Y-%m"), "id": source, "name": names.get(source, source)}
        | marketing_row(numbers, margin)
        for (month, source), numbers in sorted(months.items())
    ]


def marketing_margin(portal) -> float | None:
    """The portal's gross margin % (Settings), or None when unset (ROI is then hidden)."""
    value = ReportSettings.of(portal).gross_margin
    return None if value is None else float(value)


def add_spend(scope: Scope, numbers: dict[Key, Counter], keys: tuple[str, ...], *,
              by_month: bool = False) -> None:  # fmt: skip
    """Add the period's ad spend (pro rata for partial months) to rows keyed by source."""
    if keys != ("source",) or scope.utm:  # spend is entered per source, not per campaign
        return
    for (month, source), cents in spend_in_period(scope).items():
        key = (month, source) if by_month else (source,)
        numbers[key]["spend_cents"] += cents


def utm_tree(scope: Scope, margin: float | None) -> list[dict]:
    """Rows utm_source → utm_medium → utm_campaign, each level summed from the one below."""
    numbers = marketing_numbers(scope, UTM_FIELDS)
    levels: dict[Key, Counter] = defaultdict(Counter)
    for key, counted in numbers.items():
        for depth in (1, 2, 3):
            levels[key[:depth]].update(counted)
    rows = []
    for key in sorted(levels, key=lambda k: tuple((part or "\uffff").casefold() for part in k)):
        fields = dict(zip(UTM_FIELDS, (*key, None, None)[:3], strict=True))
        rows.append(
            {"id": "", "name": key[-1] or "—", "level": len(key), **fields}
            | marketing_row(levels[key], margin)
        )
    return rows


def stage_reach(scope: Scope, received) -> list[dict]:
    """For each lead status in CRM order, the received leads that were ever in it (the
    status a lead was created in counts, the first one when its history lacks it)."""
    statuses = lead_statuses(scope.portal)
    reached, total = _reached_counts(scope, received, _first_crm_id(statuses)), received.count()
    return [
        {"id": s.crm_id, "name": s.name, "reached": reached.get(s.crm_id, 0),
         "share": _percent(reached.get(s.crm_id, 0), total)}
        for s in statuses
    ]  # fmt: skip


def _reached_counts(scope: Scope, received, first_crm_id: str | None) -> dict[str, int]:
    """{status: received leads ever in it} by `_reached`'s definition, in one pass: the
    distinct (lead, status) pairs of their history, their status now and, without a
    creation row, the first status, counted by status. One EXISTS per lead and status made
    a big portal's year take a second."""
    leads = StageChange.objects.for_portal(scope.portal).filter(entity_type="lead")
    history = leads.filter(owner_crm_id__in=received.values("crm_id"))
    created = leads.filter(owner_crm_id=OuterRef("crm_id"), kind=StageChange.Kind.CREATED)
    pairs = (
        history.order_by().values(lead=F("owner_crm_id"), reached=F("stage_crm_id"))
        .union(
            received.order_by().values(lead=F("crm_id"), reached=F("status__crm_id")),
            received.order_by().filter(~Exists(created))
            .values(lead=F("crm_id"), reached=Value(first_crm_id, output_field=CharField())),
        )
    )  # fmt: skip
    sql, params = pairs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT reached, COUNT(*) FROM ({sql}) pairs GROUP BY reached", params)  # noqa: S608 (the ORM's SQL)
        return {status: count for status, count in cursor.fetchall() if status is not None}


def stage_reached_leads(scope: Scope, status_crm_id: str):
    """The received leads counted in `status_crm_id`'s stage reach (its drill-down)."""
    statuses = lead_statuses(scope.portal)
    status = next((s for s in statuses if s.crm_id == status_crm_id), None)
    received = received_leads(scope)
    if status is None:
        return received.none()
    return received.filter(_reached(scope, status, _first_crm_id(statuses)))


def _first_crm_id(statuses: list[Stage]) -> str | None:
    return next((s.crm_id for s in statuses if s.semantic == Semantic.OPEN), None)


def _reached(scope: Scope, status: Stage, first_crm_id: str | None) -> Q:
    """A lead was ever in `status`: its history entered it, it is in it now, or it is the
    first status and the history does not say where the lead was created."""
    history = StageChange.objects.for_portal(scope.portal).filter(
        entity_type="lead", owner_crm_id=OuterRef("crm_id")
    )
    reached = Q(Exists(history.filter(stage_crm_id=status.crm_id))) | Q(status_id=status.pk)
    if status.crm_id == first_crm_id:
        reached |= ~Q(Exists(history.filter(kind=StageChange.Kind.CREATED)))
    return reached


def top_sources(scope: Scope, names: dict[str, str]) -> dict:
    """The five sources with most received, per day (or week) and against the previous
    period of the same length."""
    start, end = scope.span()
    length = end - start
    days = (scope.end - scope.start).days + 1
    grain = "day" if days <= DAILY_UP_TO else "week"
    received = received_leads(scope)
    counts = Counter(dict(received.values_list("source").annotate(n=Count("id"))))
    top = [source for source, _n in counts.most_common(TOP_SOURCES)]
    before = received_leads(scope, start=start - length - timedelta(microseconds=1),
                            end=start - timedelta(microseconds=1))  # fmt: skip
    previous = Counter(
        dict(before.filter(source__in=top).values_list("source").annotate(n=Count("id")))
    )
    trunc = (TruncDay if grain == "day" else TruncWeek)("created_at", tzinfo=scope.zone)
    series: dict[str, Counter] = defaultdict(Counter)
    rows = received.filter(source__in=top).annotate(bucket=trunc)
    for source, bucket, n in rows.values_list("source", "bucket").annotate(n=Count("id")):
        series[source][_day(bucket)] += n
    buckets = _day_buckets(scope.start, scope.end, grain)
    return {
        "grain": grain,
        "periods": [bucket.isoformat() for bucket in buckets],
        "sources": [
            {"id": source, "name": names.get(source, source), "received": counts[source],
             "previous": previous[source],
             "change": _percent(counts[source] - previous[source], previous[source]),
             "values": [series[source][bucket] for bucket in buckets]}
            for source in top
        ],
    }  # fmt: skip


def _day(value) -> date:
    return value.date() if isinstance(value, datetime) else value


def _day_buckets(start: date, end: date, grain: str) -> list[date]:
    if grain == "week":
        start = start - timedelta(days=start.weekday())
    step = timedelta(days=1 if grain == "day" else 7)
    buckets = []
    while start <= end:
        buckets.append(start)
        start += step
    return buckets


def source_calls(scope: Scope, owner_types: tuple[str, ...] = ("lead", "deal")):
    """Completed calls of the period bound to a lead or deal the scope selects (or only to
    those of `owner_types`)."""
    calls = Activity.objects.for_portal(scope.portal).filter(
        kind=Activity.Kind.CALL, completed=True, completed_at__range=scope.span()
    )
    bound = Q(pk__in=[])
    for owner_type in owner_types:
        # EXISTS, not IN: an OR of two IN (subquery) made PostgreSQL walk a million owners
        # for every call (minutes on a 1M-deal portal).
        owners = _owners(scope, owner_type).filter(crm_id=OuterRef("owner_crm_id"))
        bound |= Q(Exists(owners), owner_type=owner_type)
    return of_scope_employees(scope, calls).filter(bound)


def _owners(scope: Scope, owner_type: str):
    if owner_type == "lead":
        return entities_selected(scope, Lead.objects.for_portal(scope.portal))
    return in_scope_pipeline(scope, entities_selected(scope, Deal.objects.for_portal(scope.portal)))


def calls_by_source(scope: Scope, names: dict[str, str]) -> list[dict]:
    """Completed calls per month and source of the lead or deal they are bound to: from the
    aggregates (a big portal's year has about a million calls), or with a UTM filter (the
    aggregates know no UTM) counted by the database, each owner type joined to its table."""
    counts: Counter = Counter()
    if not scope.utm:  # the aggregates hold the calls by their owner's source
        summed = facts_summed(
            scope.portal, start=scope.start, end=scope.end, keys=("source_crm_id",),
            where=facts_where(scope, list(OWNER_CALLS.values())), by_month=True,
        )  # fmt: skip
        for (bucket, source), (qty, _cents, _seconds) in summed.items():
            if qty:
                counts[(_month(bucket), source)] += qty
        return _calls_rows(counts, names)
    for owner_type in ("lead", "deal"):
        rows = (
            source_calls(scope, (owner_type,))
            .annotate(bucket=TruncMonth("completed_at", tzinfo=scope.zone))
            .values_list("bucket", f"owner_{owner_type}__source")
            .annotate(n=Count("id"))
            .order_by()
        )
        for bucket, source, n in rows:
            counts[(_month(bucket), source)] += n
    return _calls_rows(counts, names)


def _calls_rows(counts: Counter, names: dict[str, str]) -> list[dict]:
    return [
        {"month": month.strftime("%Y-%m"), "id": source, "name": names.get(source, source),
         "calls": n}
        for (month, source), n in sorted(counts.items())
    ]  # fmt: skip


def lead_list(scope: Scope, received, names: dict[str, str], *, now: datetime,
              limit: int | None = None) -> list[dict]:  # fmt: skip
    """The received leads, newest first: status, days in it, idle days, "no next step"."""
    planned = Activity.objects.for_portal(scope.portal).filter(
        owner_type="lead", owner_crm_id=OuterRef("crm_id"), completed=False
    )
    rows = received.annotate(planned=Exists(planned)).order_by("-created_at", "crm_id")
    if limit is not None:
        rows = rows[:limit]
    values = rows.values(
        "crm_id", "title", "source", "utm_source", "created_at", "moved_at", "last_touch_at",
        "planned", responsible_name=F("responsible__name"), status_name=F("status__name"),
    )  # fmt: skip
    return [
        {
            "id": str(row["crm_id"]),
            "title": row["title"],
            "source": names.get(row["source"], row["source"]),
            "utm_source": row["utm_source"],
            "responsible": row["responsible_name"] or "—",
            "status": row["status_name"] or "",
            "status_days": (now - (row["moved_at"] or row["created_at"])) // timedelta(days=1),
            "idle_days": (now - row["last_touch_at"]) // timedelta(days=1),
            "no_next_step": not row["planned"],
            "url": card_url(scope.portal, "lead", row["crm_id"]),
            "path": card_path(scope.portal, "lead", row["crm_id"]),
        }
        for row in values
    ]


def status_matrix(scope: Scope, received) -> dict:
    """Received leads as employee × current status."""
    statuses = lead_statuses(scope.portal)
    cells = received.values_list("responsible__crm_id", "status__crm_id").annotate(n=Count("id"))
    by_employee: dict[int, Counter] = defaultdict(Counter)
    for employee, status, n in cells:
        by_employee[employee or 0][status or ""] += n
    labels = employee_labels(scope.portal, [e for e in by_employee if e])
    employees = [
        {"id": str(crm_id), "name": labels.get(crm_id, "—") if crm_id else "—",
         "counts": dict(counts), "total": sum(counts.values())}
        for crm_id, counts in by_employee.items()
    ]  # fmt: skip
    employees.sort(key=lambda row: (-row["total"], row["name"].casefold()))
    return {"statuses": [{"id": s.crm_id, "name": s.name} for s in statuses],
            "employees": employees}  # fmt: skip


def marketing_dynamics(scope: Scope, metric: str, *, grain: str = "month") -> dict:
    """One metric per month (or quarter) of the scope's period, a line per source."""
    if metric not in DYNAMICS_METRICS:
        raise ValueError(f"unknown metric {metric!r}")
    names = source_names(scope.portal)
    by_bucket: dict[str, dict[date, Counter]] = defaultdict(lambda: defaultdict(Counter))
    for (month, source), numbers in marketing_numbers(scope, ("source",), by_month=True).items():
        by_bucket[source][period_bucket(month, grain)].update(numbers)
    buckets = period_buckets(scope.start, scope.end, grain)
    series = [
        {"id": source, "name": names.get(source, source),
         "values": [marketing_row(numbers[b], None)[metric] for b in buckets]}
        for source, numbers in by_bucket.items()
    ]  # fmt: skip
    series.sort(key=lambda one: -sum(v or 0 for v in one["values"]))
    return {"metric": metric, "grain": grain,
            "periods": [period_label(b, grain) for b in buckets], "sources": series}  # fmt: skip
