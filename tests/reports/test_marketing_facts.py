"""The aggregates the marketing report reads by source: a lead's "received" row by its status
now, kept equal to a recount through lead events."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from crmapp.models import Deal, Lead, Source
from reports.facts import facts_new, owner_facts
from reports.marketing import marketing, source_calls
from reports.scope import Viewer, scope_resolve
from tests.reports.test_aggregates import MSK, assert_facts_are_a_recount, at, change
from tests.reports.test_marketing import _assert_rows_match, _expected_by_source
from tests.webhooks.test_bitrix24_events import APP_TOKEN, event_body, post


def _deliver(client, portal, capture, fixture: str, crm_id: int) -> None:
    """A real Bitrix24 event about `crm_id`, received and applied (its tasks run)."""
    with capture(execute=True):
        assert post(client, event_body(portal, fixture, entity_id=crm_id)).status_code == 200


def lead_row(**fields) -> dict:
    return {"crm_id": 5, "semantic": "open", "amount": 0, "source": "WEB", "status": "IN_PROCESS",
            "created_at": at(2), "modified_at": at(4), "closed_at": None, "moved_at": at(4),
            "employee": 7, "pipeline": None} | fields  # fmt: skip


def test_a_received_lead_counts_on_its_creation_day_under_its_source_and_status_now():
    facts = facts_new()
    history = [change(2, "open", "NEW", kind=1), change(4, "open", "IN_PROCESS")]
    owner_facts("lead", lead_row(), history, MSK, facts)
    received = {key: values for key, values in facts.items() if key[1] == "lead_received"}
    assert received == {(at(2).date(), "lead_received", 7, -1, "WEB", "IN_PROCESS"): [1, 0, 0]}

    # Converted later: the same lead, the same day, its new status; and a cohort conversion.
    facts = facts_new()
    converted = lead_row(semantic="won", status="CONVERTED", closed_at=at(9))
    owner_facts("lead", converted, [*history, change(9, "won", "CONVERTED", kind=3)], MSK, facts)
    keys = {key[1:] for key, values in facts.items() if any(values)}
    assert ("lead_received", 7, -1, "WEB", "CONVERTED") in keys
    assert ("lead_created_won", 7, -1, "WEB", "") in keys
    assert ("lead_received", 7, -1, "WEB", "IN_PROCESS") not in keys


@pytest.mark.django_db
def test_lead_events_move_the_received_row_and_the_report_follows_the_mirror(
    client, installed, bitrix24, django_capture_on_commit_callbacks
):
    installed.application_token = APP_TOKEN
    installed.save()
    today = timezone.localdate(timezone=ZoneInfo(installed.time_zone))
    start = today - timedelta(days=60)
    recent = Lead.objects.for_portal(installed).filter(semantic="open").order_by("-created_at")
    moved, junked = recent.values_list("crm_id", flat=True)[:2]
    bitrix24.control.update("leads", moved, {"STATUS_ID": "IN_PROCESS", "SOURCE_ID": "WEB"})
    bitrix24.control.update("leads", junked, {"STATUS_ID": "JUNK"})
    for lead in (moved, junked):
        _deliver(client, installed, django_capture_on_commit_callbacks,
                 "bitrix24_event_ONCRMLEADUPDATE.txt", lead)  # fmt: skip
    assert Lead.objects.for_portal(installed).get(crm_id=junked).semantic == "lost"
    assert_facts_are_a_recount(installed)
    report = marketing(scope_resolve(installed, Viewer.operator(), start=start, end=today))
    _assert_rows_match(report["sources"], _expected_by_source(installed, start, today))


@pytest.mark.django_db
def test_the_migration_counts_received_leads_for_portals_imported_before_it(installed):
    from importlib import import_module

    from reports.models import DayFact, MonthFact

    for model in (DayFact, MonthFact):
        model.objects.for_portal(installed).filter(metric="lead_received").delete()
    migration = import_module("reports.migrations.0011_lead_received_facts")
    migration.lead_received_backfill(None, None)
    assert_facts_are_a_recount(installed)


@pytest.mark.django_db
def test_a_deal_given_another_source_takes_its_calls_there_and_a_deleted_one_drops_them(
    client, installed, bitrix24, django_capture_on_commit_callbacks
):
    installed.application_token = APP_TOKEN
    installed.save()
    today = timezone.localdate(timezone=ZoneInfo(installed.time_zone))
    scope = scope_resolve(
        installed, Viewer.operator(), start=today - timedelta(days=365), end=today
    )
    called = Counter(
        source_calls(scope, ("deal",)).values_list("owner_crm_id", flat=True)
    ).most_common(2)
    (moved, moved_calls), (deleted, deleted_calls) = called
    was = Deal.objects.for_portal(installed).get(crm_id=moved).source
    other = next(s for s in Source.objects.for_portal(installed).values_list("crm_id", flat=True)
                 if s != was)  # fmt: skip

    def by_source() -> Counter:
        totals = Counter()
        for row in marketing(scope)["calls"]:
            totals[row["id"]] += row["calls"]
        return totals

    before = by_source()
    bitrix24.control.update("deals", moved, {"SOURCE_ID": other})
    _deliver(client, installed, django_capture_on_commit_callbacks,
             "bitrix24_event_ONCRMDEALUPDATE.txt", moved)  # fmt: skip
    assert Deal.objects.for_portal(installed).get(crm_id=moved).source == other
    moved_to = by_source()
    assert moved_to[other] - before[other] == moved_calls
    assert before[was] - moved_to[was] == moved_calls
    assert_facts_are_a_recount(installed)

    # The owner gone, its calls are bound to nothing the report counts.
    gone = Deal.objects.for_portal(installed).get(crm_id=deleted).source
    bitrix24.control.delete("deals", deleted)
    _deliver(client, installed, django_capture_on_commit_callbacks,
             "bitrix24_event_ONCRMDEALDELETE.txt", deleted)  # fmt: skip
    assert moved_to[gone] - by_source()[gone] == deleted_calls
    assert_facts_are_a_recount(installed)
