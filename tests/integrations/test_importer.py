from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from crmapp.models import Activity, Deal, Lead, Portal, StageChange
from integrations import importer
from integrations.errors import CrmError
from integrations.importer import (
    DIRECTORY,
    portal_import_begin,
    portal_import_chunk,
    portal_import_unfinished_parts,
)


@pytest.fixture
def portal(sandbox_portal):
    return sandbox_portal


def _run(portal: Portal, run: str, parts: list[str] | None = None) -> int:
    """Run the import's chunk tasks inline, in the order a worker would take them."""
    queue, chunks = list(parts or [DIRECTORY]), 0
    while queue:
        queue += portal_import_chunk(Portal.objects.get(pk=portal.pk), run=run, part=queue.pop(0))
        chunks += 1
    return chunks


def _mirror(portal: Portal) -> dict:
    return {
        "deals": sorted(
            Deal.objects.for_portal(portal).values_list("crm_id", "amount", "stage_id")
        ),
        "leads": Lead.objects.for_portal(portal).count(),
        "activities": Activity.objects.for_portal(portal).count(),
        "history": StageChange.objects.for_portal(portal).count(),
    }


@pytest.mark.django_db
def test_it_resumes_a_killed_import_without_duplicates(portal, monkeypatch, django_db_blocker):
    monkeypatch.setattr(importer, "CHUNK", 300)
    run = portal_import_begin(portal, now=timezone.now())
    sources = portal_import_chunk(Portal.objects.get(pk=portal.pk), run=run)
    for part in sources:
        if part != "deals":
            portal_import_chunk(Portal.objects.get(pk=portal.pk), run=run, part=part)

    # The worker dies while importing deals: after one page is committed, mid-way the next.
    real_upsert, pages = importer.UPSERT["deal"], []

    def upsert_then_die(portal, records):
        pages.append(len(records))
        if len(pages) == 2:
            raise SystemExit("worker killed")
        real_upsert(portal, records)

    monkeypatch.setitem(importer.UPSERT, "deal", upsert_then_die)
    with pytest.raises(SystemExit):
        portal_import_chunk(Portal.objects.get(pk=portal.pk), run=run, part="deals")
    monkeypatch.setitem(importer.UPSERT, "deal", real_upsert)
    assert Portal.objects.get(pk=portal.pk).import_cursor["sources"]["deals"] > 0
    # What the resume watchdog re-enqueues, plus a duplicate of a chain still queued.
    parts = portal_import_unfinished_parts(Portal.objects.get(pk=portal.pk))
    assert "deals" in parts
    _run(portal, run, [*parts, "deals"])
    resumed = _mirror(portal)
    done = Portal.objects.get(pk=portal.pk)

    # A clean run over the same data gives the same mirror and the same count.
    fresh_run = portal_import_begin(portal, now=timezone.now())
    _run(portal, fresh_run)
    assert _mirror(portal) == resumed
    assert done.import_phase == Portal.ImportPhase.DONE
    assert done.import_done == done.import_total == Portal.objects.get(pk=portal.pk).import_total


@pytest.mark.django_db
def test_it_ignores_a_superseded_run(portal):
    old = portal_import_begin(portal, now=timezone.now())
    new = portal_import_begin(portal, now=timezone.now())

    assert portal_import_chunk(Portal.objects.get(pk=portal.pk), run=old) == []
    assert "deals" in portal_import_chunk(Portal.objects.get(pk=portal.pk), run=new)


@pytest.mark.django_db
def test_it_waits_out_the_rate_limit(bitrix24, portal):
    bitrix24.control.rate_limit(3, 20)
    run = portal_import_begin(portal, now=timezone.now())
    _run(portal, run)
    bitrix24.control.rate_limit(1000, 200)

    assert Portal.objects.get(pk=portal.pk).import_phase == Portal.ImportPhase.DONE
    assert Deal.objects.for_portal(portal).count() > 500


@pytest.mark.django_db
def test_it_imports_only_the_basic_window(portal):
    Portal.objects.filter(pk=portal.pk).update(trial_started_at=timezone.now() - timedelta(days=30))
    portal.refresh_from_db()
    run = portal_import_begin(portal, now=timezone.now())
    _run(portal, run)

    since = timezone.now() - timedelta(days=93)
    deals = Deal.objects.for_portal(portal)
    assert deals.exists()
    assert not deals.filter(modified_at__lt=since).exclude(semantic="open").exists()
    assert not StageChange.objects.for_portal(portal).filter(changed_at__lt=since).exists()
    assert (
        not Activity.objects.for_portal(portal)
        .filter(completed=True, completed_at__lt=since - timedelta(days=1))
        .exists()
    )


@pytest.mark.django_db
def test_it_retries_when_bitrix24_is_unreachable(bitrix24, portal, monkeypatch):
    from integrations.tasks import portal_import

    run = portal_import_begin(portal, now=timezone.now())
    bitrix24.control.fault("*", "INTERNAL_SERVER_ERROR", count=1)
    with pytest.raises(CrmError) as failure:
        portal_import_chunk(Portal.objects.get(pk=portal.pk), run=run, part=DIRECTORY)
    assert failure.value.retryable
    assert portal_import.max_retries > 0
    _run(portal, run)
    assert Portal.objects.get(pk=portal.pk).import_phase == Portal.ImportPhase.DONE
