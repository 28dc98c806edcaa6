"""The import's lanes beside a mirror write, on PostgreSQL's row locks (the CI's second pass)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from crmapp.models import Deal, ImportLane, Portal
from integrations import importer
from integrations.importer import lane_part
from integrations.sync import entities_refresh
from reports import aggregates
from tests.reports.test_aggregates import (
    assert_facts_are_a_recount,
    import_chunk,
    import_to_the_lanes,
)


@pytest.fixture
def portal(sandbox_portal):
    return sandbox_portal


def _in_thread(target, errors: list) -> threading.Thread:
    def run():
        try:
            target()
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _waiting_for_a_lock(seconds: float = 10) -> bool:
    """True once another connection of this database waits for a row lock."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return True
        time.sleep(0.05)
    return False


@pytest.mark.django_db(transaction=True)
def test_an_event_waits_for_a_lane_chunk_and_neither_deadlocks(portal, bitrix24, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (the CI's second pass)")
    monkeypatch.setattr(aggregates, "REBUILD_CHUNK", 100)
    # A chunk's fact rows go through the scratch table, an event's few as arrays.
    monkeypatch.setattr(aggregates, "ROWS_PER_ARRAY", 50)
    monkeypatch.setattr(importer, "TASK_SECONDS", 0)  # one chunk per task
    run, _lanes = import_to_the_lanes(portal)
    deals = ImportLane.objects.for_portal(portal).filter(entity_type="deal")
    while deals.get().step != ImportLane.Step.FACTS:
        import_chunk(portal, run, lane_part("deal"))

    # A deal chunk that has written its fact rows and holds them, with its lane, uncommitted.
    counted, release, real = threading.Event(), threading.Event(), aggregates.facts_rebuild_chunk

    def held(*args):
        result = real(*args)
        counted.set()
        assert release.wait(30)
        return result

    monkeypatch.setattr(aggregates, "facts_rebuild_chunk", held)
    errors: list[Exception] = []
    lane = _in_thread(lambda: import_chunk(portal, run, lane_part("deal")), errors)
    assert counted.wait(30)
    deal_id = (
        Deal.objects.for_portal(portal).order_by("-crm_id").values_list("crm_id", flat=True)[0]
    )
    bitrix24.control.update("deals", deal_id, {"OPPORTUNITY": "4242.00"})
    # The event holds the portal row and waits for the lanes.
    event = _in_thread(
        lambda: entities_refresh(Portal.objects.get(pk=portal.pk), {"deal": {deal_id}}), errors
    )
    assert _waiting_for_a_lock(), "the event should wait for the deal lane"
    # The chunk commits, then the event runs: neither waits for the other in turn.
    release.set()
    lane.join(30)
    event.join(30)
    assert not lane.is_alive() and not event.is_alive()
    assert errors == []
    assert Deal.objects.for_portal(portal).get(crm_id=deal_id).amount == 4242

    monkeypatch.setattr(aggregates, "facts_rebuild_chunk", real)
    queue = [lane_part(t) for t in aggregates.ENTITY_TYPES]
    while queue:
        queue += import_chunk(portal, run, queue.pop(0))
    assert Portal.objects.get(pk=portal.pk).import_phase == Portal.ImportPhase.DONE
    assert_facts_are_a_recount(portal)
