from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from crmapp.models import Activity, Deal, Employee, Lead, Pipeline, Portal, Stage, StageChange
from crmapp.tiers import portal_tier, window_start
from tests.conftest import install_post, sandbox_token


def _all(token, method, select, **params):
    return list(token.call_list_fast(method, {"select": select, **params})["result"])


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


@pytest.mark.django_db
def test_it_installs_and_mirrors_the_sandbox_portal(installed, bitrix24):
    portal = installed
    token = sandbox_token(bitrix24)
    # The trial keeps 24 months: what changed since then, and what is still open from before.
    since = window_start(portal, now=portal.import_started_at)

    fields = ["ID", "STAGE_ID", "OPPORTUNITY", "ASSIGNED_BY_ID", "CATEGORY_ID", "COMPANY_ID",
              "DATE_MODIFY", "CLOSED"]  # fmt: skip
    deals = _all(token, "crm.deal.list", fields)
    expected = [d for d in deals if _at(d["DATE_MODIFY"]) >= since or d["CLOSED"] == "N"]
    mirrored = {
        d.crm_id: d
        for d in Deal.objects.for_portal(portal).select_related("stage", "responsible", "pipeline")
    }
    assert len(deals) > 500
    assert sorted(mirrored) == sorted(int(d["ID"]) for d in expected)
    for row in expected:
        deal = mirrored[int(row["ID"])]
        assert deal.stage.crm_id == row["STAGE_ID"]
        assert deal.amount == Decimal(row["OPPORTUNITY"])
        assert deal.pipeline.crm_id == int(row["CATEGORY_ID"])
        assert deal.responsible.crm_id == int(row["ASSIGNED_BY_ID"])
        assert deal.company_crm_id == (int(row["COMPANY_ID"] or 0) or None)

    leads = _all(token, "crm.lead.list", ["ID", "DATE_MODIFY", "STATUS_SEMANTIC_ID"])
    expected_leads = [
        int(row["ID"])
        for row in leads
        if _at(row["DATE_MODIFY"]) >= since or row["STATUS_SEMANTIC_ID"] == "P"
    ]
    assert sorted(Lead.objects.for_portal(portal).values_list("crm_id", flat=True)) == sorted(
        expected_leads
    )
    activities = _all(token, "crm.activity.list", ["ID", "LAST_UPDATED", "COMPLETED"])
    expected_activities = [
        int(row["ID"])
        for row in activities
        if _at(row["LAST_UPDATED"]) >= since or row["COMPLETED"] == "N"
    ]
    assert Activity.objects.for_portal(portal).count() == len(expected_activities)
    history = StageChange.objects.for_portal(portal)
    for entity_type, type_id in (("deal", 2), ("lead", 1)):
        rows = _all(token, "crm.stagehistory.list", ["ID", "CREATED_TIME"], entityTypeId=type_id)
        in_window = [row for row in rows if _at(row["CREATED_TIME"]) >= since]
        assert history.filter(entity_type=entity_type).count() == len(in_window)
    assert Pipeline.objects.for_portal(portal).count() == 3
    assert Stage.objects.for_portal(portal).filter(entity_type="deal", semantic="won").exists()
    assert Employee.objects.for_portal(portal).filter(active=False).exists()


@pytest.mark.django_db
def test_it_derives_win_times_and_next_steps_from_history(installed):
    portal = installed
    won = Deal.objects.for_portal(portal).filter(semantic="won")
    for deal in won[:50]:
        last_win = (
            StageChange.objects.for_portal(portal)
            .filter(entity_type="deal", owner_crm_id=deal.crm_id, semantic="won")
            .order_by("-changed_at")
            .first()
        )
        if last_win:
            assert deal.closed_at == last_win.changed_at
    open_with_plans = (
        Activity.objects.for_portal(portal)
        .filter(owner_type="deal", completed=False)
        .values_list("owner_crm_id", flat=True)
    )
    planned = Deal.objects.for_portal(portal).filter(semantic="open", crm_id__in=open_with_plans)
    assert planned.exists()
    assert not planned.filter(has_next_step=False).exists()
    assert Deal.objects.for_portal(portal).filter(semantic="open", has_next_step=False).exists()


@pytest.mark.django_db
def test_it_binds_its_event_handler(installed, bitrix24, settings):
    handlers = sandbox_token(bitrix24).call_method("event.get")["result"]
    bound = {
        row["event"].upper() for row in handlers if row["handler"].endswith("/bitrix24/events/")
    }
    assert {"ONCRMDEALUPDATE", "ONCRMDEALMOVETOCATEGORY", "ONCRMLEADADD",
            "ONCRMACTIVITYDELETE", "ONAPPUNINSTALL"} <= bound  # fmt: skip


@pytest.mark.django_db
def test_it_stores_tokens_encrypted_and_keeps_data_on_reinstall(
    installed, client, bitrix24, django_capture_on_commit_callbacks
):
    portal = installed
    Portal.objects.filter(pk=portal.pk).update(
        trial_started_at=timezone.now() - timezone.timedelta(days=5)
    )
    deals_before = Deal.objects.for_portal(portal).count()

    with django_capture_on_commit_callbacks(execute=True):
        response = install_post(client, bitrix24, bitrix24.control.reinstall())

    assert response.status_code == 200
    assert Portal.objects.count() == 1
    again = Portal.objects.get()
    assert again.pk == portal.pk
    assert (timezone.now() - again.trial_started_at).days == 5
    assert Deal.objects.for_portal(again).count() == deals_before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [
        {"DOMAIN": None},
        {"member_id": None},
        {"AUTH_ID": None},
        {"PROTOCOL": "x"},
        {"status": "nonsense"},
    ],
    ids=["no-domain", "no-member", "no-token", "bad-protocol", "bad-status"],
)
def test_it_rejects_a_malformed_install(client, bitrix24, change):
    form = {k: v for k, v in (bitrix24.info["install"] | change).items() if v is not None}
    response = install_post(client, bitrix24, form)
    assert response.status_code == 400
    assert Portal.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [
        {"AUTH_ID": "forged-access-token"},
        {"member_id": "0" * 32},
        {"DOMAIN": "evil.bitrix24.ru"},
    ],
    ids=["forged-token", "other-member", "other-domain"],
)
def test_it_rejects_a_spoofed_install(client, bitrix24, change):
    response = install_post(client, bitrix24, bitrix24.info["install"] | change)
    assert response.status_code == 403
    assert Portal.objects.count() == 0


@pytest.mark.django_db
def test_it_rejects_a_token_of_another_application(client, bitrix24, settings):
    settings.BITRIX24_CLIENT_ID = "app.someone-else"
    response = install_post(client, bitrix24)
    assert response.status_code == 403
    assert Portal.objects.count() == 0


@pytest.mark.django_db
def test_a_reinstall_after_a_clean_uninstall_does_not_restart_the_trial(
    connected, client, bitrix24
):
    from crmapp.lifecycle import portal_uninstall, portals_purge_uninstalled

    first = connected.trial_started_at
    later = timezone.now() + timezone.timedelta(days=20)
    portal_uninstall(connected, purge_after=timezone.now(), now=timezone.now())
    assert portals_purge_uninstalled(now=timezone.now()) == [connected.key]
    assert not Portal.objects.exists()

    with time_machine.travel(later, tick=True):
        assert install_post(client, bitrix24, bitrix24.control.reinstall()).status_code == 200
        again = Portal.objects.get()
        assert again.pk != connected.pk
        assert again.trial_started_at == first
        assert portal_tier(again, now=timezone.now()) == "basic"


@pytest.mark.django_db
def test_it_reads_the_paid_state_before_the_import_asks_for_history(
    connected, bitrix24, settings, monkeypatch
):
    from integrations import tasks

    monkeypatch.setattr(tasks.portal_import, "delay", lambda *args: None)
    bitrix24.control.set_app(status="P", payment_expired=False, days=365)
    Portal.objects.filter(pk=connected.pk).update(
        trial_started_at=timezone.now() - timezone.timedelta(days=40)
    )

    tasks.portal_connect.delay(connected.pk)

    portal = Portal.objects.get(pk=connected.pk)
    assert (portal.tier, portal_tier(portal, now=timezone.now())) == (
        settings.BITRIX24_PAID_TIER,
        "subscription-12",
    )
    assert (portal.tier_until - timezone.now()).days == 364
    since = datetime.fromisoformat(portal.import_cursor["since"])
    assert (timezone.now() - since).days in range(364, 367)
    assert portal.history_months == 12
