"""Child process of bench_reports: build the large portal once, then time the report pages
and the same numbers computed straight from the mirror. Prints one JSON line."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crmapp.settings")
import django

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.db.models import (  # noqa: E402
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncMonth  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.result import percentile, samples_seconds  # noqa: E402
from crmapp.models import (  # noqa: E402  # noqa: E402
    Activity,
    Deal,
    Department,
    Employee,
    Lead,
    Pipeline,
    Portal,
    Source,
    Stage,
)
from frontend.session import AppSession, session_issue  # noqa: E402
from reports.aggregates import REBUILD_CHUNK, facts_add, facts_clear, facts_of  # noqa: E402
from reports.models import ALL_PIPELINES, DayFact, Plan, PlanLevel, PlanMetric  # noqa: E402
from reports.plan_input import month_start  # noqa: E402

KEY = "bench-reports-v1.example"
DEALS, ACTIVITIES, LEADS, EMPLOYEES, MONTHS = 1_000_000, 5_000_000, 300_000, 200, 24
RUNS = 15


def log(message: str) -> None:
    print(f"   ({message})", file=sys.stderr, flush=True)


def portal_ready() -> Portal:
    portal = Portal.objects.filter(key=KEY).first()
    if portal and portal.import_phase == Portal.ImportPhase.DONE:
        if DayFact.objects.for_portal(portal).filter(metric="deal_stage_now").exists():
            return portal
        # Kept from before the aggregates gained a metric: recount them, keep the mirror.
        Portal.objects.filter(pk=portal.pk).update(import_phase=Portal.ImportPhase.RUNNING)
    if not portal or Deal.objects.for_portal(portal).count() != DEALS:
        Portal.objects.filter(key=KEY).delete()
        portal = Portal.objects.create(kind="bitrix24", key=KEY, domain=KEY, member_id=KEY)
        started = time.monotonic()
        _directory(portal)
        _bulk(portal)
        log(f"generated the mirror in {time.monotonic() - started:.0f} s")
    started = time.monotonic()
    _facts_build(portal)
    log(f"built the aggregates in {time.monotonic() - started:.0f} s")
    with connection.cursor() as cursor:
        # What autovacuum does after a bulk load: statistics, and the visibility map that
        # lets index-only scans skip the heap.
        cursor.execute("VACUUM ANALYZE")
    Portal.objects.filter(pk=portal.pk).update(
        import_phase=Portal.ImportPhase.DONE, data_as_of=timezone.now()
    )
    return Portal.objects.get(pk=portal.pk)


def plans_ready(portal: Portal) -> None:
    """What a head of sales types: every employee's money, count and calls plan for every
    month, a money plan in one pipeline, and a department's own money plan (cheap, so it is
    made on a kept portal that has none)."""
    if Plan.objects.for_portal(portal).exists():
        return
    now, month, months = timezone.now(), month_start(timezone.now().date()), []
    for _ in range(MONTHS):
        months.append(month)
        month = month_start(month - timedelta(days=1))
    values = {PlanMetric.WON_SUM: 150_000_000, PlanMetric.WON_COUNT: 20, PlanMetric.CALLS: 300}
    rows = [
        Plan(portal=portal, month=month, level=PlanLevel.EMPLOYEE, target_crm_id=employee,
             pipeline_crm_id=pipeline, metric=metric, value=value, updated_at=now)
        for month in months
        for employee in range(1, EMPLOYEES + 1)
        for metric, value in values.items()
        for pipeline in ((ALL_PIPELINES, 1) if metric == PlanMetric.WON_SUM else (ALL_PIPELINES,))
    ] + [
        Plan(portal=portal, month=month, level=PlanLevel.DEPARTMENT, target_crm_id=1,
             metric=PlanMetric.WON_SUM, value=3_000_000_000, updated_at=now)
        for month in months
    ]  # fmt: skip
    Plan.objects.bulk_create(rows, batch_size=5000)
    log(f"typed {len(rows)} plans")


def _facts_build(portal: Portal) -> None:
    """The product's rebuild (facts_of + facts_add), split by id range over two processes
    (this machine has two cores), each committing chunk by chunk."""
    facts_clear(portal)
    parts = [("lead", 0, LEADS), ("deal", 0, DEALS // 2), ("activity", 0, ACTIVITIES // 2),
             ("deal", DEALS // 2, DEALS), ("activity", ACTIVITIES // 2, ACTIVITIES)]  # fmt: skip
    halves = [parts[:3], parts[3:]]
    command = [sys.executable, "-m", "bench.reports_measure", "build"]
    children = [subprocess.Popen([*command, json.dumps([portal.pk, half])]) for half in halves]
    if any(child.wait() for child in children):
        raise RuntimeError("building the aggregates failed")


def _facts_build_part(portal_id: int, parts: list) -> None:
    portal = Portal.objects.get(pk=portal_id)
    for entity_type, after_id, last_id in parts:
        while after_id < last_id:
            upto = min(after_id + REBUILD_CHUNK, last_id)
            ids = set(range(after_id + 1, upto + 1))
            with transaction.atomic():
                facts_add(portal, facts_of(portal, {entity_type: ids}), prune=False)
            after_id = upto
        log(f"{entity_type} facts up to {last_id} built")


def _directory(portal: Portal) -> None:
    departments = [
        Department.objects.create(portal=portal, crm_id=i, name=f"Отдел {i}") for i in range(1, 11)
    ]
    for i in range(1, EMPLOYEES + 1):
        Employee.objects.create(
            portal=portal, crm_id=i, name=f"Менеджер {i:03d}", department=departments[i % 10]
        )
    for p in range(3):
        pipeline = Pipeline.objects.create(portal=portal, crm_id=p, name=f"Воронка {p}")
        prefix = f"C{p}:" if p else ""
        for crm_id, semantic in (("NEW", "open"), ("WORK", "open"), ("WON", "won"),
                                 ("LOSE", "lost")):  # fmt: skip
            Stage.objects.create(portal=portal, entity_type="deal", crm_id=prefix + crm_id,
                                 pipeline=pipeline, name=crm_id, semantic=semantic)  # fmt: skip
    for crm_id, semantic in (("NEW", "open"), ("CONVERTED", "won"), ("JUNK", "lost")):
        Stage.objects.create(portal=portal, entity_type="lead", crm_id=crm_id, name=crm_id,
                             semantic=semantic)  # fmt: skip
    for source in ("WEB", "CALL", "EMAIL", "ADVERTISING", "PARTNER", "OTHER"):
        Source.objects.create(portal=portal, crm_id=source, name=source)


def _bulk(portal: Portal) -> None:
    """Deals, leads, activities and stage history with SQL, in the shape the import writes."""
    employees = list(
        Employee.objects.for_portal(portal).order_by("crm_id").values_list("pk", flat=True)
    )
    pipelines = list(
        Pipeline.objects.for_portal(portal).order_by("crm_id").values_list("pk", flat=True)
    )
    stage = {(s.pipeline_id, s.semantic, s.crm_id.split(":")[-1]): s.pk
             for s in Stage.objects.for_portal(portal).filter(entity_type="deal")}  # fmt: skip
    open_stages = [stage[(p, "open", "WORK")] for p in pipelines]
    won_stages = [stage[(p, "won", "WON")] for p in pipelines]
    lost_stages = [stage[(p, "lost", "LOSE")] for p in pipelines]
    lead_status = {
        s.semantic: s.pk for s in Stage.objects.for_portal(portal).filter(entity_type="lead")
    }
    now = timezone.now()
    start = now - timedelta(days=30 * MONTHS)
    params = {"portal": portal.pk, "employees": employees, "pipelines": pipelines,
              "open": open_stages, "won": won_stages, "lost": lost_stages, "start": start,
              "now": now, "deals": DEALS, "activities": ACTIVITIES, "leads": LEADS,
              "span": (now - start).total_seconds(), "lead_open": lead_status["open"],
              "lead_won": lead_status["won"], "lead_lost": lead_status["lost"]}  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.42)")
        log("deals")
        cursor.execute(
            """
            WITH base AS (
              SELECT g, 1 + g %% 200 AS e, 1 + g %% 3 AS p, random() AS r, random() AS r2,
                     %(start)s::timestamptz + random() * %(span)s * interval '1 second' AS created
              FROM generate_series(1, %(deals)s) g
            ), shaped AS (
              SELECT *, CASE WHEN r < 0.4 THEN 'won' WHEN r < 0.7 THEN 'lost' ELSE 'open' END
                     AS semantic,
                     LEAST(created + r2 * interval '60 days', %(now)s::timestamptz) AS closed
              FROM base
            )
            INSERT INTO crmapp_deal (portal_id, crm_id, title, pipeline_id, stage_id, semantic,
              amount, currency, responsible_id, source, created_at, modified_at, closed_at,
              moved_at, last_touch_at, has_next_step, utm_source, utm_medium, utm_campaign,
              utm_content, utm_term)
            SELECT %(portal)s, g, 'Сделка ' || g, (%(pipelines)s::bigint[])[p],
              CASE semantic WHEN 'won' THEN (%(won)s::bigint[])[p]
                            WHEN 'lost' THEN (%(lost)s::bigint[])[p]
                            ELSE (%(open)s::bigint[])[p] END,
              semantic, round((1000 + r2 * 500000)::numeric, 2), 'RUB',
              (%(employees)s::bigint[])[e],
              (ARRAY['WEB','CALL','EMAIL','ADVERTISING','PARTNER','OTHER'])[1 + g %% 6],
              created, closed, CASE WHEN semantic = 'open' THEN NULL ELSE closed END, closed,
              CASE WHEN semantic = 'open' THEN created + r2 * (%(now)s::timestamptz - created)
                   ELSE closed END,
              r2 < 0.5, '', '', '', '', ''
            FROM shaped
            """,
            params,
        )
        log("deal history")
        cursor.execute(
            """
            INSERT INTO crmapp_stagechange (portal_id, crm_id, entity_type, owner_crm_id, kind,
              pipeline_crm_id, stage_crm_id, semantic, changed_at)
            SELECT d.portal_id, 'c' || d.crm_id, 'deal', d.crm_id, 1, pl.crm_id, s.crm_id,
                   'open', d.created_at
            FROM crmapp_deal d JOIN crmapp_pipeline pl ON pl.id = d.pipeline_id
            JOIN crmapp_stage s ON s.pipeline_id = pl.id AND s.crm_id LIKE '%%NEW'
            WHERE d.portal_id = %(portal)s
            UNION ALL
            SELECT d.portal_id, 'w' || d.crm_id, 'deal', d.crm_id, 3, pl.crm_id, s.crm_id,
                   d.semantic, d.closed_at
            FROM crmapp_deal d JOIN crmapp_pipeline pl ON pl.id = d.pipeline_id
            JOIN crmapp_stage s ON s.id = d.stage_id
            WHERE d.portal_id = %(portal)s AND d.semantic <> 'open'
            """,
            params,
        )
        log("activities")
        cursor.execute(
            """
            WITH base AS (
              SELECT g, random() AS r, random() AS r2,
                     %(start)s::timestamptz + random() * %(span)s * interval '1 second' AS created
              FROM generate_series(1, %(activities)s) g
            )
            INSERT INTO crmapp_activity (portal_id, crm_id, kind, subject, responsible_id,
              owner_type, owner_crm_id, created_at, deadline, completed, completed_at)
            SELECT %(portal)s, g,
              (ARRAY['call','call','call','email','email','meeting','task','other'])[1 + g %% 8],
              'Дело ' || g, (%(employees)s::bigint[])[1 + (g * 7) %% 200], 'deal',
              1 + (g * 13) %% %(deals)s, created, created + interval '1 day', r < 0.9,
              CASE WHEN r < 0.9 THEN LEAST(created + r2 * interval '2 days',
                                           %(now)s::timestamptz) END
            FROM base
            """,
            params,
        )
        log("leads")
        cursor.execute(
            """
            WITH base AS (
              SELECT g, random() AS r,
                     %(start)s::timestamptz + random() * %(span)s * interval '1 second' AS created
              FROM generate_series(1, %(leads)s) g
            )
            INSERT INTO crmapp_lead (portal_id, crm_id, title, status_id, semantic,
              responsible_id, source, amount, currency, created_at, modified_at, closed_at,
              moved_at, last_touch_at, utm_source, utm_medium, utm_campaign, utm_content,
              utm_term)
            SELECT %(portal)s, g, 'Лид ' || g,
              CASE WHEN r < 0.5 THEN %(lead_won)s WHEN r < 0.8 THEN %(lead_lost)s
                   ELSE %(lead_open)s END,
              CASE WHEN r < 0.5 THEN 'won' WHEN r < 0.8 THEN 'lost' ELSE 'open' END,
              (%(employees)s::bigint[])[1 + g %% 200], 'WEB', 0, 'RUB', created, created,
              CASE WHEN r < 0.8 THEN created + interval '1 day' END,
              CASE WHEN r < 0.8 THEN created + interval '1 day' END, created,
              '', '', '', '', ''
            FROM base
            """,
            params,
        )


def efficiency_from_mirror(portal: Portal, start: datetime, end: datetime) -> None:
    """The efficiency figures computed straight from the mirror tables (the baseline)."""
    span = (start, end)
    deals = Deal.objects.for_portal(portal)
    closed = deals.filter(semantic__in=["won", "lost"], closed_at__range=span)
    list(closed.values("responsible_id", "semantic").annotate(n=Count("id"), s=Sum("amount")))
    done = Activity.objects.for_portal(portal).filter(completed=True, completed_at__range=span)
    list(done.values("responsible_id", "kind").annotate(n=Count("id")))
    open_now = deals.filter(semantic="open")
    list(open_now.values("responsible_id").annotate(n=Count("id"), s=Sum("amount")))


def forgotten_from_mirror(portal: Portal, start: datetime, end: datetime) -> None:
    idle = timezone.now() - timedelta(days=14)
    created = Deal.objects.for_portal(portal).filter(created_at__range=(start, end))
    forgotten = Count("id", filter=Q(semantic="open", last_touch_at__lte=idle))
    list(created.values("responsible_id").annotate(n=Count("id"), f=forgotten))


def plan_from_mirror(portal: Portal, start: datetime, end: datetime) -> None:
    """The plan's fact: won count and sum per employee, month and pipeline."""
    won = Deal.objects.for_portal(portal).filter(semantic="won", closed_at__range=(start, end))
    months = won.annotate(month=TruncMonth("closed_at"))
    list(
        months.values("month", "responsible_id", "pipeline_id").annotate(
            n=Count("id"), s=Sum("amount")
        )
    )


def quality_from_mirror(portal: Portal, start: datetime, end: datetime) -> None:
    """The checked deals per employee (open now, or closed in the period), no rule applied."""
    checked = Deal.objects.for_portal(portal).filter(
        Q(semantic="open") | Q(semantic__in=["won", "lost"], closed_at__range=(start, end))
    )
    list(checked.values("responsible_id").annotate(n=Count("id")))


def dynamics_from_mirror(portal: Portal, start: datetime, end: datetime) -> None:
    """The dynamics figures from the mirror: wins by month over two years, the period's
    deals by stage with their ages, and the stays in each stage that ended in the period,
    walked from the stage history (the next row of the same deal ends a stay)."""
    span = (start, end)
    deals = Deal.objects.for_portal(portal)
    won = deals.filter(semantic="won", closed_at__gte=end - timedelta(days=2 * 366))
    list(won.annotate(month=TruncMonth("closed_at")).values("month").annotate(
        n=Count("id"), s=Sum("amount")))  # fmt: skip
    period = deals.filter(Q(created_at__range=span) | Q(closed_at__range=span))
    age = ExpressionWrapper(
        Coalesce(F("closed_at"), Value(timezone.now())) - F("created_at"),
        output_field=DurationField(),
    )
    list(period.values("stage_id").annotate(n=Count("id"), s=Sum("amount"), a=Sum(age)))
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT d.responsible_id, h.stage_crm_id, count(*), sum(h.left_at - h.changed_at)
            FROM (SELECT owner_crm_id, stage_crm_id, changed_at,
                         lead(changed_at) OVER (PARTITION BY owner_crm_id
                                                ORDER BY changed_at, crm_id) AS left_at
                  FROM crmapp_stagechange
                  WHERE portal_id = %s AND entity_type = 'deal') h
            JOIN crmapp_deal d ON d.portal_id = %s AND d.crm_id = h.owner_crm_id
            WHERE h.left_at BETWEEN %s AND %s
            GROUP BY 1, 2
            """,
            [portal.pk, portal.pk, start, end],
        )
        cursor.fetchall()


def marketing_from_mirror(portal: Portal, start: datetime, end: datetime) -> None:
    """The marketing source table: received by source and state, closed with their time,
    won deals by source."""
    span = (start, end)
    leads = Lead.objects.for_portal(portal)
    received = leads.filter(created_at__range=span)
    list(received.values("source", "semantic", "status_id").annotate(n=Count("id")))
    closed = leads.filter(semantic__in=["won", "lost"], closed_at__range=span)
    list(closed.values("source", "semantic").annotate(n=Count("id")))
    won = Deal.objects.for_portal(portal).filter(semantic="won", closed_at__range=span)
    list(won.values("source").annotate(n=Count("id"), s=Sum("amount")))


def timed(action) -> tuple[float, float]:
    """(p50, p95) of `action` in seconds."""
    samples = samples_seconds(action, repeat=RUNS)
    return statistics.median(samples), percentile(samples, 95)


def page_timed(client: Client, url: str, headers: dict, direct) -> dict:
    """p50 and p95 of rendering `url`, the p95 of `direct` (its numbers from the mirror) and
    the page's size in KB."""
    sizes = []

    def render() -> None:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.content[:300]
        sizes.append(len(response.content))

    p50, p95 = timed(render)
    _, direct_p95 = timed(direct)
    log(f"{url}: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, mirror p95 "
        f"{direct_p95 * 1000:.0f} ms, {max(sizes) / 1024:.0f} KB")  # fmt: skip
    return {"p50": p50, "p95": p95, "direct_p95": direct_p95, "kb": max(sizes) / 1024}


def overview_timed(portal: Portal, client: Client, token: str, today) -> dict:
    """The morning screen against the mirror baselines of the reports it reads: this month's
    plan, efficiency and quality, the forgotten report's 90 days."""

    def direct() -> None:
        end = datetime.combine(today, datetime.max.time(), UTC)
        month = datetime.combine(today.replace(day=1), datetime.min.time(), UTC)
        days90 = datetime.combine(today - timedelta(days=89), datetime.min.time(), UTC)
        for measure in (plan_from_mirror, efficiency_from_mirror, quality_from_mirror):
            measure(portal, month, end)
        forgotten_from_mirror(portal, days90, end)

    return page_timed(client, "/app/", {"X-App-Session": token}, direct)


# The blocks a page loads on its own (scrolled to, or a line opened), each timed as a row:
# (block, what it adds to the query, its name in the table).
BLOCKS = {
    "plan": [*((block, "", block) for block in ("period", "today", "completion", "dynamics")),
             ("pipelines", "&line=department&department=1", "a department's pipelines")],
    "dynamics": [("employees", "", "employees"), ("deals", "", "deals"),
                 ("stages", "", "stage statistics"),
                 ("stage", "&entity=deal&pipeline=0&stage=NEW", "a stage's employees")],
    "marketing": [*((block, "", block) for block in ("stages", "top", "utm", "matrix")),
                  ("months", "&source=WEB", "a source's months")],
}  # fmt: skip


def blocks_timed(client: Client, token: str, report: str, first, today, label: str,
                 direct) -> dict:  # fmt: skip
    """A page's blocks, each its own request."""
    timings, headers = {}, {"X-App-Session": token, "HX-Request": "true"}
    query = f"period=custom&from={first}&to={today}"
    for block, narrowing, name in BLOCKS.get(report, ()):
        url = f"/app/reports/{report}/block/{block}/?{query}{narrowing}"
        timings[f"{report} block {name}, {label}"] = page_timed(client, url, headers, direct)
    return timings


def main() -> None:
    portal = portal_ready()
    plans_ready(portal)
    # A kept portal outlives its 14-day trial: measure a year inside a 24-month window.
    Portal.objects.filter(pk=portal.pk).update(tier_override=Portal.Tier.SUBSCRIPTION_24)
    token = session_issue(AppSession(portal_id=portal.pk, user_crm_id=1, role="admin"))
    client = Client()
    today = timezone.now().date()
    periods = {"month": today.replace(day=1), "year": today - timedelta(days=365)}
    direct = {"efficiency": efficiency_from_mirror, "forgotten": forgotten_from_mirror,
              "plan": plan_from_mirror, "quality": quality_from_mirror,
              "dynamics": dynamics_from_mirror,
              "marketing": marketing_from_mirror}  # fmt: skip
    only = set(filter(None, os.environ.get("BENCH_REPORTS", "").split(",")))
    direct = {name: measure for name, measure in direct.items() if not only or name in only}
    pages = {}
    for report in direct:
        for label, first in periods.items():
            url = f"/app/reports/{report}/?period=custom&from={first}&to={today}"
            start = datetime.combine(first, datetime.min.time(), UTC)
            end = datetime.combine(today, datetime.max.time(), UTC)

            def baseline(report=report, s=start, e=end):
                direct[report](portal, s, e)

            headers = {"X-App-Session": token}
            pages[f"{report}, {label}"] = page_timed(client, url, headers, baseline)
            pages |= blocks_timed(client, token, report, first, today, label, baseline)
    if not only or "overview" in only:
        pages["overview"] = overview_timed(portal, client, token, today)
    described = f"{DEALS // 1000}k deals, {ACTIVITIES // 1_000_000}M activities, PostgreSQL"
    print(json.dumps({"portal": described, "pages": pages}))


if __name__ == "__main__":
    if sys.argv[1:2] == ["build"]:
        _facts_build_part(*json.loads(sys.argv[2]))
    else:
        main()
