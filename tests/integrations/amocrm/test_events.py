"""amoCRM's hooks: every captured or documented body parses; the receiver takes only hooks
with the portal's URL token and account; the signed "access revoked" call disables the
portal; a live hook stream with duplicates and drops, then reconciliation, leaves the mirror
equal to the account."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from crmapp.models import Activity, Deal, Lead, Portal
from integrations.amocrm import normalize
from integrations.amocrm.events import amocrm_events_parse
from integrations.amocrm.revoked import revoked_signature
from integrations.errors import InvalidPayload
from integrations.reconcile import portal_reconcile
from tests.conftest import wait_until
from webhooks.models import InboundEvent

FIXTURES = Path(__file__).resolve().parents[3] / ".." / "shared" / "crm" / "fixtures"
TOKEN = "t0ken-of-the-portal-" + "x" * 20


def _body(name: str) -> str:
    text = (FIXTURES / f"amocrm_{name}").read_text().strip()
    if name.endswith(".json"):
        return urlencode(_flat(json.loads(text)))
    return text


def _flat(value, prefix: str = "") -> list[tuple[str, str]]:
    """A documented JSON hook as the form body amoCRM sends (lists numbered like maps)."""
    if isinstance(value, list) and all(
        isinstance(item, dict) and all(k.isdigit() for k in item) for item in value
    ):  # the documents write the numbered items as a list of maps
        value = {k: v for item in value for k, v in item.items()}
    if isinstance(value, dict | list):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        pairs = []
        for key, item in items:
            pairs += _flat(item, f"{prefix}[{key}]" if prefix else str(key))
        return pairs
    return [(prefix, str(value))]


def _named(events) -> set[tuple[str, str, int | None]]:
    return {(e.entity_type, e.action, e.entity_id) for e in events if e.known}


def test_every_hook_fixture_parses():
    for path in sorted(FIXTURES.glob("amocrm_webhook_*")):
        events = amocrm_events_parse(_body(path.name.removeprefix("amocrm_")))
        assert events and all(e.account_id.isdigit() for e in events), path.name


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("webhook_leads_status_short.txt", {("lead", "upsert", 10754147),
                                            ("deal", "upsert", 10754147)}),
        ("webhook_leads_delete.txt", {("lead", "delete", 31926520), ("deal", "delete", 31926520)}),
        ("webhook_leads_update_full.txt", {("lead", "upsert", 31926520),
                                           ("deal", "upsert", 31926520)}),
        ("webhook_task_add_constructed.txt",
         {("activity", "upsert", normalize.activity_crm_id("task", 4745251))}),
        ("webhook_task_update_doc.json",
         {("activity", "upsert", normalize.activity_crm_id("task", 11122233))}),
        ("webhook_unsorted_delete_accept_doc.json", {("lead", "upsert", 2132111),
                                                     ("deal", "upsert", 2132111)}),
        ("webhook_note_lead_2020_real.txt", set()),  # a text note: nothing we follow
        ("webhook_contacts_add_doc.json", set()),
    ],
)  # fmt: skip
def test_a_hook_names_the_entities_to_read_again(fixture, expected):
    events = amocrm_events_parse(_body(fixture))
    assert _named(events) == expected
    assert all(e.known for e in events) == bool(expected)


def test_a_call_note_names_its_activity():
    (event,) = amocrm_events_parse(_body("webhook_note_call_in_constructed.txt"))
    kind, note_id = normalize.activity_source(event.entity_id)
    assert (event.entity_type, kind) == ("activity", "note") and note_id > 0


@pytest.mark.parametrize(
    "body",
    ["", "leads[status][0][id]=1", "leads[status][0][id]=x&account[id]=1", "%zz=&&=",
     "leads[status][0][id]=-3&account[id]=5"],
)  # fmt: skip
def test_a_malformed_hook_is_refused(body):
    with pytest.raises(InvalidPayload):
        amocrm_events_parse(body)


@pytest.fixture
def hooked(amo_portal):
    amo_portal.application_token = TOKEN
    amo_portal.save()
    return amo_portal


def _post(client, token: str, body: str):
    return client.post(f"/amocrm/webhooks/{token}/", body,
                       content_type="application/x-www-form-urlencoded")  # fmt: skip


@pytest.mark.django_db
def test_the_receiver_stores_each_entity_of_a_verified_hook(client, hooked, monkeypatch):
    from webhooks import receive

    monkeypatch.setattr(receive, "_drain_wake", lambda portal: None)
    lead_ids = [20_000_001, 20_000_002]
    body = urlencode([
        *[(f"leads[status][{i}][id]", str(lead)) for i, lead in enumerate(lead_ids)],
        ("task[update][0][id]", "50000001"),
        ("account[id]", hooked.member_id), ("account[subdomain]", hooked.key),
    ])  # fmt: skip
    response = _post(client, TOKEN, body)
    assert response.status_code == 200, response.content
    stored = set(InboundEvent.objects.for_portal(hooked).values_list(
        "entity_type", "action", "entity_id"))  # fmt: skip
    assert stored == {(t, "upsert", i) for i in lead_ids for t in ("lead", "deal")} | {
        ("activity", "upsert", normalize.activity_crm_id("task", 50000001))}  # fmt: skip
    assert _post(client, TOKEN, body).status_code == 200  # a duplicate lands on the same rows
    assert InboundEvent.objects.for_portal(hooked).count() == 5


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("token", "account", "status"),
    [("wrong-token", None, 403), (TOKEN, "999", 404), ("", None, 404)],
)
def test_a_spoofed_hook_is_refused_and_nothing_stored(client, hooked, token, account, status):
    body = urlencode([("leads[status][0][id]", "20000001"),
                      ("account[id]", account or hooked.member_id)])  # fmt: skip
    assert _post(client, token, body).status_code == status
    assert _post(client, TOKEN, "leads[status][0][id]=1").status_code == 400
    assert not InboundEvent.objects.for_portal(hooked).exists()


@pytest.mark.django_db
def test_the_signed_access_revoked_call_disables_the_portal(client, hooked, settings):
    query = {"account_id": hooked.member_id, "client_uuid": settings.AMOCRM_CLIENT_ID}
    forged = client.get("/amocrm/revoked/", query | {"signature": "0" * 64})
    assert forged.status_code == 403
    assert Portal.objects.get(pk=hooked.pk).status == Portal.Status.ACTIVE
    signature = revoked_signature(
        settings.AMOCRM_CLIENT_ID, hooked.member_id, secret=settings.AMOCRM_CLIENT_SECRET
    )
    now = timezone.now()
    assert client.get("/amocrm/revoked/", query | {"signature": signature}).status_code == 200
    portal = Portal.objects.get(pk=hooked.pk)
    assert portal.status == Portal.Status.UNINSTALLED
    assert portal.access_token == portal.refresh_token == ""
    days = settings.UNINSTALL_RETENTION_DAYS
    assert now + timedelta(days=days - 1) < portal.purge_after < now + timedelta(days=days + 1)
    # A hook of a disabled portal finds no portal.
    body = urlencode([("leads[status][0][id]", "1"), ("account[id]", hooked.member_id)])
    assert _post(client, TOKEN, body).status_code == 404


def _mirror_of(portal, lead_ids):
    deals = Deal.objects.for_portal(portal).filter(crm_id__in=lead_ids)
    return sorted(deals.values_list("crm_id", "stage__crm_id", "amount", "responsible__crm_id"))


def _account_of(store, lead_ids):
    marks = ", ".join("?" for _ in lead_ids)
    rows = store.query(
        f"SELECT id, pipeline_id, status_id, price, responsible_user_id FROM amo_leads"  # noqa: S608
        f" WHERE id IN ({marks}) AND is_deleted = 0 ORDER BY id",
        list(lead_ids),
    )
    return [(i, normalize.stage_crm_id(p, s), price, user) for i, p, s, price, user in rows]


@pytest.mark.django_db(transaction=True)
def test_a_hook_stream_with_duplicates_and_drops_then_reconciliation_equals_the_account(
    amo_hooked, amo_account
):
    portal = amo_hooked
    control = amo_account.control
    store = amo_account.portal.store
    rows = store.query(
        "SELECT id, pipeline_id FROM amo_leads WHERE status_id NOT IN (142, 143)"
        " AND is_deleted = 0 ORDER BY id LIMIT 6"
    )
    lead_ids = [row[0] for row in rows]
    control.request("POST", "/hooks/knobs", {"duplicates": 1, "reorder": True})
    for lead_id, pipeline in rows[:3]:
        control.request("POST", f"/leads/{lead_id}", {"fields": {"status_id": 142,
                        "pipeline_id": pipeline, "price": 123456}})  # fmt: skip
    # Two changes whose hooks are lost: only reconciliation can find them.
    control.request("POST", "/hooks/knobs", {"drop_next": 2, "duplicates": 0})
    control.request("POST", f"/leads/{lead_ids[3]}", {"fields": {"price": 777}})
    control.request("DELETE", f"/leads/{lead_ids[4]}", {})
    control.request("POST", "/hooks/wait", {"timeout": 20})
    assert wait_until(
        lambda: _mirror_of(portal, lead_ids[:3]) == _account_of(store, lead_ids[:3]), timeout=30
    ), "the hooks brought the won leads"
    won = Lead.objects.for_portal(portal).filter(crm_id__in=lead_ids[:3])
    assert set(won.values_list("status__crm_id", flat=True)) == {"WON"}
    assert _mirror_of(portal, lead_ids[3:5]) != _account_of(store, lead_ids[3:5])
    portal_reconcile(Portal.objects.get(pk=portal.pk), now=timezone.now())
    assert _mirror_of(portal, lead_ids) == _account_of(store, lead_ids)
    assert not Lead.objects.for_portal(portal).filter(crm_id=lead_ids[4]).exists()
    assert Activity.objects.for_portal(portal).exists()
