"""History import: speed against what the CRM's rate limit allows, and worker memory.

A medium sandbox portal with Bitrix24's real leaky bucket (50 requests, draining 2/s), imported
by a real worker. Batch returns at most 50 × 50 = 2,500 rows a request, so at the limit a
client can fetch 2 × 2,500 = 5,000 entities/s; the ratio is our entities/s over that (target
≥ 0.8). Stricter, counting the bucket's initial burst of 50 free requests too: fetching N rows
needs R = Σ ceil(rows of a source / 2,500) requests and cannot finish before (R − 50) / 2 s;
that time over ours is shown as "with burst".
"""

from __future__ import annotations

import math
import os
import time

from django.conf import settings
from django.utils import timezone

from bench.result import Result
from bench.workers import worker_start, worker_stop
from crmapp.lifecycle import portal_data_delete
from crmapp.models import Activity, Deal, Lead, Portal, StageChange
from integrations.bitrix24.sdk import sdk_configure
from integrations.importer import portal_import_begin
from integrations.sandbox import start_sandbox
from integrations.tasks import portal_import

BUCKET, DRAIN, ROWS_PER_REQUEST = 50, 2.0, 2500
LIMIT = DRAIN * ROWS_PER_REQUEST  # entities/s


def run() -> list[Result]:
    return [_throughput()]


def import_sandbox(scale: str, rate_limit: tuple[float, float]):
    data_dir = settings.VAR_DIR / "sandbox"
    print(f"   (starting the {scale} sandbox portal; the first run generates it)", flush=True)
    sandbox = start_sandbox(seed=3, scale=scale, rate_limit=rate_limit, data_dir=data_dir)
    info = sandbox.info
    env = {
        "BITRIX24_CLIENT_ID": info["client_id"],
        "BITRIX24_CLIENT_SECRET": info["client_secret"],
        "BITRIX24_OAUTH_URL": info["oauth_url"],
        "REQUESTS_CA_BUNDLE": info["ca_bundle"],
        "VAR_DIR": str(settings.VAR_DIR),
    }
    os.environ.update(env)
    settings.BITRIX24_CLIENT_ID, settings.BITRIX24_CLIENT_SECRET = (
        env["BITRIX24_CLIENT_ID"],
        env["BITRIX24_CLIENT_SECRET"],
    )
    settings.BITRIX24_OAUTH_URL = env["BITRIX24_OAUTH_URL"]
    sdk_configure()
    return sandbox, env


def empty_portal(sandbox) -> Portal:
    info = sandbox.info
    existing = Portal.objects.filter(member_id=info["install"]["member_id"]).first()
    if existing:
        portal_data_delete(existing)
    return Portal.objects.create(
        kind="bitrix24",
        key=info["domain"],
        domain=info["domain"],
        member_id=info["install"]["member_id"],
        access_token=info["install"]["AUTH_ID"],
        refresh_token=info["install"]["REFRESH_ID"],
    )


def import_wait(portal: Portal, *, timeout: float) -> Portal:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        portal.refresh_from_db()
        if portal.import_phase in (Portal.ImportPhase.DONE, Portal.ImportPhase.FAILED):
            return portal
        time.sleep(0.5)
    raise TimeoutError(f"import of {portal} did not finish in {timeout} s")


def mirror_rows(portal: Portal) -> dict[str, int]:
    """The imported rows by source: the entities the rate-limit math counts."""
    history = StageChange.objects.for_portal(portal)
    return {
        "leads": Lead.objects.for_portal(portal).count(),
        "deals": Deal.objects.for_portal(portal).count(),
        "activities": Activity.objects.for_portal(portal).count(),
        "deal history": history.filter(entity_type="deal").count(),
        "lead history": history.filter(entity_type="lead").count(),
    }


def limit_seconds(rows: dict[str, int]) -> float:
    """The least time the bucket allows for fetching `rows`, its initial burst counted."""
    requests_needed = sum(math.ceil(n / ROWS_PER_REQUEST) for n in rows.values())
    return max(requests_needed - BUCKET, 0) / DRAIN


def _throughput() -> Result:
    sandbox, env = import_sandbox("medium", (BUCKET, DRAIN))
    worker = worker_start(env)
    try:
        portal = empty_portal(sandbox)
        run = portal_import_begin(portal, now=timezone.now())
        portal_import.delay(portal.pk, run)
        portal = import_wait(portal, timeout=1800)
    finally:
        worker_stop(worker)
        sandbox.stop()
    seconds = (portal.import_finished_at - portal.import_started_at).total_seconds()
    rows = mirror_rows(portal)
    total = sum(rows.values())
    allowed_seconds = limit_seconds(rows)
    ratio = total / seconds / LIMIT
    return Result(
        name="history import vs the rate limit (medium portal, 50/2)",
        ratio=ratio,
        target=">= 0.80",
        met=ratio >= 0.8 and portal.import_phase == Portal.ImportPhase.DONE,
        figures={
            "entities": f"{total}",
            "ours": f"{seconds:.1f} s = {total / seconds:.0f}/s",
            "limit": f"{LIMIT:.0f}/s",
            "with burst": f"{allowed_seconds / seconds:.2f} (limit allows {allowed_seconds:.1f} s)",
        },
    )
