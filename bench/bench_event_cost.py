"""Per-event processing cost on a 10k-deal portal vs a 1M-deal portal (target ratio ≤ 1.5).

What a deal event costs us once the CRM has answered: upsert the deal, its stage history and
its activities, recompute its derived fields and move its share of the daily aggregates, in
one transaction (`entities_apply`). The portals are synthetic mirrors (one stage change and
one activity per deal) with their aggregates built, kept between runs.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import connection

from bench.result import Result
from crmapp.models import Activity, Deal, Portal, StageChange
from integrations.records import ActivityRecord, DealRecord, StageChangeRecord
from integrations.sync import CurrentState, entities_apply
from reports.aggregates import facts_rebuild

SMALL, LARGE = 10_000, int(os.environ.get("BENCH_EVENT_COST_DEALS", "1000000"))
EVENTS = 300
START = datetime(2025, 1, 1, tzinfo=UTC)


def run() -> list[Result]:
    small, large = _portal(SMALL), _portal(LARGE)
    small_cost, large_cost = _cost(small, SMALL), _cost(large, LARGE)
    return [
        Result(
            name=f"per-event cost, {LARGE} vs {SMALL} deals",
            ratio=large_cost / small_cost,
            target="<= 1.5",
            met=large_cost / small_cost <= 1.5,
            figures={
                f"{SMALL} deals": f"{small_cost * 1000:.2f} ms/event",
                f"{LARGE} deals": f"{large_cost * 1000:.2f} ms/event",
            },
        )
    ]


def _portal(deals: int) -> Portal:
    key = f"bench-event-cost-{deals}.example"
    portal, _ = Portal.objects.get_or_create(
        kind="bitrix24", key=key, defaults={"domain": key, "member_id": key}
    )
    ready = portal.import_phase == Portal.ImportPhase.DONE
    if ready and Deal.objects.for_portal(portal).count() == deals:
        return portal
    print(f"   (building a {deals}-deal mirror; kept for the next run)", flush=True)
    for model in (Deal, StageChange, Activity):
        model.objects.for_portal(portal)._raw_delete(model.objects.db)
    for first in range(1, deals + 1, 20_000):
        ids = range(first, min(first + 20_000, deals + 1))
        Deal.objects.bulk_create(
            [Deal(portal=portal, crm_id=i, created_at=_at(i), modified_at=_at(i),
                  last_touch_at=_at(i), amount=1000) for i in ids]
        )  # fmt: skip
        StageChange.objects.bulk_create(
            [StageChange(portal=portal, crm_id=str(i), entity_type="deal", owner_crm_id=i,
                         kind=1, stage_crm_id="NEW", semantic="open", changed_at=_at(i))
             for i in ids]
        )  # fmt: skip
        Activity.objects.bulk_create(
            [Activity(portal=portal, crm_id=i, kind="call", owner_type="deal", owner_crm_id=i,
                      created_at=_at(i), completed=True, completed_at=_at(i)) for i in ids]
        )  # fmt: skip
    facts_rebuild(portal)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # As autovacuum would after a bulk load: without statistics the first run's
            # plans scan, and the ratio measured the missing ANALYZE (2.8), not the events.
            cursor.execute("VACUUM ANALYZE")
    Portal.objects.filter(pk=portal.pk).update(import_phase=Portal.ImportPhase.DONE)
    portal.refresh_from_db()
    return portal


def _at(i: int) -> datetime:
    return START + timedelta(minutes=i % 500_000)


def _state(deal_id: int, n: int) -> CurrentState:
    """What the CRM answers for a deal that has just been won: record, history, activities."""
    now = START + timedelta(days=400, seconds=n)
    deal = DealRecord(
        crm_id=deal_id, title=f"Deal {deal_id}", pipeline_crm_id=0, stage_crm_id="WON",
        semantic="won", amount=Decimal(1000 + n), currency="RUB", responsible_crm_id=None,
        company_crm_id=None, contact_crm_id=None, lead_crm_id=None, source="WEB",
        created_at=_at(deal_id), modified_at=now, moved_at=now,
    )  # fmt: skip
    history = [
        StageChangeRecord(crm_id=str(deal_id), entity_type="deal", owner_crm_id=deal_id, kind=1,
                          pipeline_crm_id=0, stage_crm_id="NEW", semantic="open",
                          changed_at=_at(deal_id)),
        StageChangeRecord(crm_id=f"won-{deal_id}", entity_type="deal", owner_crm_id=deal_id,
                          kind=3, pipeline_crm_id=0, stage_crm_id="WON", semantic="won",
                          changed_at=now),
    ]  # fmt: skip
    activities = [
        ActivityRecord(crm_id=deal_id, kind="call", subject="", responsible_crm_id=None,
                       owner_type="deal", owner_crm_id=deal_id, created_at=_at(deal_id),
                       deadline=None, completed=True, completed_at=now),
    ]  # fmt: skip
    return CurrentState(owners={"deal": ({deal_id}, [deal], history, activities)})


def _cost(portal: Portal, deals: int) -> float:
    chooser = random.Random(deals)
    ids = [chooser.randint(1, deals) for _ in range(EVENTS + 20)]
    for n, deal_id in enumerate(ids[:20]):  # warm-up
        entities_apply(portal, _state(deal_id, n))
    samples = []
    for n, deal_id in enumerate(ids[20:]):
        state = _state(deal_id, n)
        started = time.perf_counter()
        entities_apply(portal, state)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)
