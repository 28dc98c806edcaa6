from __future__ import annotations

import pytest
from django.utils import timezone

from crmapp.models import Activity, Deal, Lead, Portal
from integrations.reconcile import portal_deletions_reconcile, portal_reconcile
from integrations.tasks import portals_reconcile
from tests.sandbox_fixture import sandbox_deal_ids


@pytest.mark.django_db
def test_it_repairs_changes_whose_events_were_lost(installed, bitrix24):
    # The events never arrive (our handler was down, or the change came before the bind).
    changed, moved = sandbox_deal_ids(bitrix24, "CATEGORY_ID != 2", 2)
    bitrix24.control.update("deals", changed, {"OPPORTUNITY": "424242.00"})
    bitrix24.control.move_deal(moved, 2)
    lead_id = bitrix24.control.create("leads", {"TITLE": "Lead from a lost event"})
    started = timezone.now()

    counts = portal_reconcile(Portal.objects.get(pk=installed.pk), now=started)

    deals = Deal.objects.for_portal(installed)
    assert str(deals.get(crm_id=changed).amount) == "424242.00"
    assert deals.get(crm_id=moved).pipeline.crm_id == 2
    assert Lead.objects.for_portal(installed).get(crm_id=lead_id).title == "Lead from a lost event"
    assert counts["deal"] >= 2 and counts["lead"] >= 1
    assert Portal.objects.get(pk=installed.pk).reconciled_at == started


@pytest.mark.django_db
def test_it_finds_deletions_by_comparing_id_sets(installed, bitrix24):
    activity = Activity.objects.for_portal(installed).first()
    (deleted,) = sandbox_deal_ids(bitrix24, "1 = 1")
    bitrix24.control.delete("deals", deleted)
    bitrix24.control.delete("activities", activity.crm_id)

    removed = portal_deletions_reconcile(installed)

    assert removed["deal"] >= 1 and removed["activity"] >= 1
    assert not Deal.objects.for_portal(installed).filter(crm_id=deleted).exists()
    assert not Activity.objects.for_portal(installed).filter(crm_id=activity.crm_id).exists()
    assert Deal.objects.for_portal(installed).exists()


@pytest.mark.django_db
def test_it_reconciles_only_portals_that_are_ready(installed, make_portal):
    make_portal(status=Portal.Status.UNINSTALLED)
    make_portal(import_phase=Portal.ImportPhase.RUNNING)
    assert portals_reconcile() == 1
