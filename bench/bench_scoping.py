"""What tenant scoping costs: a portal-scoped report query vs the same query unguarded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db.models import Count, Sum

from bench.result import Result, median_seconds
from crmapp.lifecycle import portal_data_delete
from crmapp.models import Deal, Portal

DEALS_PER_PORTAL = 20_000
QUERIES = 200
START = datetime(2025, 1, 1, tzinfo=UTC)


def _portal(key: str) -> Portal:
    existing = Portal.objects.filter(key=key).first()
    if existing:
        portal_data_delete(existing)
    portal = Portal.objects.create(kind="bitrix24", key=key, domain=key, member_id=key)
    Deal.objects.bulk_create(
        Deal(
            portal=portal,
            crm_id=i,
            semantic=("won", "lost", "open")[i % 3],
            amount=1000 + i % 97,
            created_at=START + timedelta(hours=i),
            modified_at=START + timedelta(hours=i),
            closed_at=START + timedelta(hours=i + 5),
            last_touch_at=START + timedelta(hours=i),
        )
        for i in range(DEALS_PER_PORTAL)
    )
    return portal


def run() -> list[Result]:
    portal = _portal("bench-scoping-a.example")
    _portal("bench-scoping-b.example")
    day = START + timedelta(days=300)

    def won_in_month(manager):
        for offset in range(QUERIES):
            since = day + timedelta(hours=offset)
            manager.filter(portal=portal, semantic="won", closed_at__gte=since).filter(
                closed_at__lt=since + timedelta(days=30)
            ).aggregate(n=Count("pk"), s=Sum("amount"))

    scoped = median_seconds(lambda: won_in_month(Deal.objects))
    baseline = median_seconds(lambda: won_in_month(Deal.all_portals))
    ratio = scoped / baseline
    return [
        Result(
            name="scoped query vs unguarded query",
            ratio=ratio,
            target="<= 1.10",
            met=ratio <= 1.10,
            figures={
                "scoped": f"{scoped / QUERIES * 1e6:.0f} µs/query",
                "unguarded": f"{baseline / QUERIES * 1e6:.0f} µs/query",
                "deals": f"{2 * DEALS_PER_PORTAL}",
            },
        )
    ]
