"""The history import of a fresh sandbox amoCRM account equals the account (counts and fields,
read from the fake's own tables), and a killed worker resumes without duplicates."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from crmapp.models import Activity, Deal, Department, Employee, Lead, Portal, Stage, StageChange
from integrations import importer
from integrations.amocrm import normalize
from integrations.importer import (
    DIRECTORY,
    portal_import_begin,
    portal_import_chunk,
    portal_import_unfinished_parts,
)
from integrations.registry import adapter_for
from integrations.sandbox.amocrm import identity as ids

pytestmark = pytest.mark.django_db


def _run(portal: Portal, run: str, parts: list[str] | None = None) -> int:
    """Run the import's chunk tasks inline, in the order a worker would take them."""
    queue, chunks = list(parts or [DIRECTORY]), 0
    while queue:
        queue += portal_import_chunk(Portal.objects.get(pk=portal.pk), run=run, part=queue.pop(0))
        chunks += 1
    return chunks


def _import(portal: Portal) -> Portal:
    _run(portal, portal_import_begin(portal, now=timezone.now()))
    portal = Portal.objects.get(pk=portal.pk)
    assert portal.import_phase == Portal.ImportPhase.DONE, portal.import_error
    return portal


def _rows(store, sql: str, args=()) -> list[dict]:
    cursor = store.conn.execute(sql, args)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _at(ts: int | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def _since(portal: Portal) -> int:
    return int(datetime.fromisoformat(portal.import_cursor["since"]).timestamp())


def _expected_leads(store, since: int) -> list[dict]:
    """The leads the import must hold: changed in the window, or older and still open."""
    return _rows(
        store,
        "SELECT * FROM amo_leads WHERE is_deleted = 0 AND (updated_at >= ? OR status_id"
        " NOT IN (?, ?)) ORDER BY id",
        (since, ids.WON, ids.LOST),
    )


def _mirror(portal: Portal) -> dict:
    return {
        "deals": sorted(
            Deal.objects.for_portal(portal).values_list("crm_id", "amount", "stage__crm_id")
        ),
        "leads": sorted(Lead.objects.for_portal(portal).values_list("crm_id", "status__crm_id")),
        "activities": sorted(
            Activity.objects.for_portal(portal).values_list("crm_id", "completed_at")
        ),
        "history": sorted(
            StageChange.objects.for_portal(portal).values_list(
                "entity_type", "crm_id", "stage_crm_id", "changed_at"
            )
        ),
    }


def test_the_directory_is_the_accounts_users_groups_pipelines_and_sources(amo_portal, amo_account):
    portal = _import(amo_portal)
    account = amo_account.portal
    users = {u["id"]: u for u in account.users}
    employees = {e.crm_id: e for e in Employee.objects.for_portal(portal).select_related(
        "department")}  # fmt: skip
    assert employees.keys() == users.keys()
    for crm_id, user in users.items():
        employee = employees[crm_id]
        assert (employee.name, employee.email) == (user["name"], user["email"])
        assert employee.active == user["rights"]["is_active"]
        assert employee.department.crm_id == (user["rights"]["group_id"] or 0)
    departments = {d.crm_id: d for d in Department.objects.for_portal(portal).select_related(
        "head")}  # fmt: skip
    assert {g["id"]: g["name"] for g in ids.groups()} == {
        crm_id: d.name for crm_id, d in departments.items()}  # fmt: skip
    heads = {u["rights"]["group_id"]: u["id"] for u in users.values()
             if u["rights"]["leads"]["view"] == "G"}  # fmt: skip
    assert heads and {d.crm_id: d.head.crm_id for d in departments.values() if d.head} == heads
    stages = Stage.objects.for_portal(portal)
    for category, _name, _sort in ids.reference.CATEGORIES:
        pipeline = ids.pipeline_id(category)
        expected = [
            (normalize.stage_crm_id(pipeline, s.id), s.name) for s in ids.statuses(category)
        ]
        got = stages.filter(entity_type="deal", pipeline__crm_id=pipeline).order_by("sort")
        assert [(s.crm_id, s.name) for s in got] == expected
        assert [s.semantic for s in got][-2:] == ["won", "lost"]
    assert list(stages.filter(entity_type="lead").order_by("sort").values_list(
        "crm_id", flat=True)) == ["NEW", "IN_WORK", "WON", "LOST"]  # fmt: skip


def test_the_import_equals_the_account(amo_portal, amo_account):
    portal = _import(amo_portal)
    store = amo_account.portal.store
    since = _since(portal)
    leads = _expected_leads(store, since)
    assert len(leads) > 500
    deals = {d.crm_id: d for d in Deal.objects.for_portal(portal).select_related(
        "stage", "pipeline", "responsible")}  # fmt: skip
    assert sorted(deals) == [row["id"] for row in leads]
    first = {ids.pipeline_id(c): ids.statuses(c)[0].id for c, _n, _s in ids.reference.CATEGORIES}
    mirrored_leads = {lead.crm_id: lead for lead in Lead.objects.for_portal(portal).select_related(
        "status")}  # fmt: skip
    assert sorted(mirrored_leads) == sorted(deals)
    for row in leads:
        deal = deals[row["id"]]
        assert (deal.title, deal.amount) == (row["name"], Decimal(row["price"]).quantize(
            Decimal("0.01")))  # fmt: skip
        assert deal.pipeline.crm_id == row["pipeline_id"]
        assert deal.stage.crm_id == normalize.stage_crm_id(row["pipeline_id"], row["status_id"])
        assert deal.responsible.crm_id == row["responsible_user_id"]
        assert (deal.company_crm_id, deal.contact_crm_id) == (row["company_id"], row["contact_id"])
        assert (deal.lead_crm_id, deal.source) == (row["id"], str(row["source_id"] or ""))
        assert (deal.created_at, deal.modified_at) == (
            _at(row["created_at"]),
            _at(row["updated_at"]),
        )
        assert deal.utm_source == (row["utm_source"] or "")
        assert deal.utm_campaign == (row["utm_campaign"] or "")
        lead = mirrored_leads[row["id"]]
        assert lead.status.crm_id == normalize.lead_status(
            row["status_id"], first[row["pipeline_id"]]
        )
        assert (lead.amount, lead.created_at) == (deal.amount, deal.created_at)
    assert Deal.objects.for_portal(portal).filter(
        utm_source__gt="").exists(), "the sandbox has leads with UTM marks"  # fmt: skip

    tasks = _rows(store, "SELECT * FROM amo_tasks WHERE updated_at >= ? OR is_completed = 0"
                  " ORDER BY id", (since,))  # fmt: skip
    calls = _rows(store, "SELECT * FROM amo_notes WHERE updated_at >= ? AND note_type IN"
                  " ('call_in', 'call_out') ORDER BY id", (since,))  # fmt: skip
    activities = {a.crm_id: a for a in Activity.objects.for_portal(portal).select_related(
        "responsible")}  # fmt: skip
    expected = {normalize.activity_crm_id("task", t["id"]): t for t in tasks}
    expected |= {normalize.activity_crm_id("note", n["id"]): n for n in calls}
    assert activities.keys() == expected.keys()
    kinds = {1: "call", 2: "meeting"}
    for task in tasks:
        activity = activities[normalize.activity_crm_id("task", task["id"])]
        assert activity.kind == kinds.get(task["task_type_id"], "other")
        assert (activity.owner_type, activity.owner_crm_id) == ("deal", task["entity_id"])
        assert activity.completed == bool(task["is_completed"])
        # It happens when it was completed: the task_completed event's time.
        assert activity.completed_at == _at(task["completed_at"])
        assert activity.responsible.crm_id == task["responsible_user_id"]
    for note in calls:
        activity = activities[normalize.activity_crm_id("note", note["id"])]
        assert (activity.kind, activity.completed_at) == ("call", _at(note["created_at"]))
    assert {a.kind for a in activities.values()} == {"call", "meeting", "other"}

    moves = _rows(store, "SELECT * FROM amo_events WHERE type = 'lead_status_changed' AND"
                  " created_at >= ?", (since,))  # fmt: skip
    created = _rows(
        store,
        "SELECT l.* FROM amo_events e JOIN amo_leads l ON l.id = e.entity_id WHERE"
        " e.type = 'lead_added' AND e.created_at >= ? AND l.is_deleted = 0",
        (since,),
    )
    history = StageChange.objects.for_portal(portal)
    for entity_type in ("deal", "lead"):
        rows = {c.crm_id: c for c in history.filter(entity_type=entity_type)}
        assert len(rows) == len(moves) + len(created)
        for move in moves:
            change = rows[normalize.history_crm_id(move["id"], entity_type)]
            after = json.loads(move["value_after"])[0]["lead_status"]
            assert change.owner_crm_id == move["entity_id"]
            assert change.changed_at == _at(move["created_at"])
            if entity_type == "deal":
                assert change.stage_crm_id == normalize.stage_crm_id(
                    after["pipeline_id"], after["id"]
                )
    # The creation row starts where the lead's first move came from (or where it is now).
    first_moves = {}
    for move in sorted(_rows(store, "SELECT * FROM amo_events WHERE type = 'lead_status_changed'"),
                       key=lambda e: e["n"]):  # fmt: skip
        first_moves.setdefault(move["entity_id"], move)
    creations = {c.owner_crm_id: c for c in history.filter(entity_type="deal", kind=1)}
    for lead in created:
        move = first_moves.get(lead["id"])
        where = (json.loads(move["value_before"])[0]["lead_status"] if move
                 else {"pipeline_id": lead["pipeline_id"], "id": lead["status_id"]})  # fmt: skip
        assert creations[lead["id"]].stage_crm_id == normalize.stage_crm_id(
            where["pipeline_id"], where["id"])  # fmt: skip
        assert creations[lead["id"]].changed_at == _at(lead["created_at"])
    assert portal.import_done == portal.import_total > 0


def test_a_killed_import_resumes_without_duplicates(amo_portal, monkeypatch):
    # Odd chunks cut between the lead's and the deal's row of one status event, too.
    monkeypatch.setattr(importer, "CHUNK", 301)
    run = portal_import_begin(amo_portal, now=timezone.now())
    sources = portal_import_chunk(Portal.objects.get(pk=amo_portal.pk), run=run)
    assert {"deals", "deal_history", "activities", "calls"} <= set(sources)
    killed = {"deals": "deal", "deal_history": "deal_history"}
    for part in sources:
        if part not in killed:
            portal_import_chunk(Portal.objects.get(pk=amo_portal.pk), run=run, part=part)
    for part, entity_type in killed.items():
        # The worker dies after one page is committed, mid-way through the next.
        real_upsert, pages = importer.UPSERT[entity_type], []

        def upsert_then_die(portal, records, real_upsert=real_upsert, pages=pages):
            pages.append(len(records))
            if len(pages) == 2:
                raise SystemExit("worker killed")
            real_upsert(portal, records)

        monkeypatch.setitem(importer.UPSERT, entity_type, upsert_then_die)
        with pytest.raises(SystemExit):
            portal_import_chunk(Portal.objects.get(pk=amo_portal.pk), run=run, part=part)
        monkeypatch.setitem(importer.UPSERT, entity_type, real_upsert)
        assert Portal.objects.get(pk=amo_portal.pk).import_cursor["sources"][part] > 0
    parts = portal_import_unfinished_parts(Portal.objects.get(pk=amo_portal.pk))
    assert set(killed) <= set(parts)
    # What the resume watchdog re-enqueues, plus a duplicate of a chain still queued.
    _run(amo_portal, run, [*parts, "deal_history"])
    resumed = _mirror(amo_portal)
    done = Portal.objects.get(pk=amo_portal.pk)
    assert done.import_phase == Portal.ImportPhase.DONE

    monkeypatch.setattr(importer, "CHUNK", 5000)
    _run(amo_portal, portal_import_begin(amo_portal, now=timezone.now()))
    assert _mirror(amo_portal) == resumed
    # (The progress counts may differ by the few creation rows handed out again around a cut;
    # what is written is the same.)
    assert done.import_done == done.import_total


def test_a_lead_read_again_by_id_gives_the_rows_the_import_wrote(amo_portal, amo_account):
    portal = _import(amo_portal)
    store = amo_account.portal.store
    since = _since(portal)
    # Leads created in the window (their whole history is in it): moved often, and never.
    chosen = [row["id"] for row in _rows(
        store,
        "SELECT l.id FROM amo_leads l WHERE l.created_at >= ? AND l.is_deleted = 0 ORDER BY"
        " (SELECT COUNT(*) FROM amo_events e WHERE e.entity_id = l.id AND"
        " e.type = 'lead_status_changed') DESC, l.id LIMIT 6",
        (since,),
    )]  # fmt: skip
    never = _rows(store, "SELECT id FROM amo_leads l WHERE created_at >= ? AND NOT EXISTS"
                  " (SELECT 1 FROM amo_events e WHERE e.entity_id = l.id AND"
                  " e.type = 'lead_status_changed') ORDER BY id LIMIT 2", (since,))  # fmt: skip
    chosen += [row["id"] for row in never]
    adapter = adapter_for(portal)
    for entity_type in ("deal", "lead"):
        records, history, activities = adapter.entities_current(entity_type, chosen)
        assert sorted(r.crm_id for r in records) == sorted(chosen)
        mirrored = StageChange.objects.for_portal(portal).filter(
            entity_type=entity_type, owner_crm_id__in=chosen)  # fmt: skip
        assert sorted((c.crm_id, c.stage_crm_id, c.changed_at) for c in mirrored) == sorted(
            (c.crm_id, c.stage_crm_id, c.changed_at) for c in history)  # fmt: skip
        owned = Activity.objects.for_portal(portal).filter(owner_crm_id__in=chosen)
        assert sorted(owned.values_list("crm_id", "completed_at")) == sorted(
            (a.crm_id, a.completed_at) for a in activities)  # fmt: skip
    by_id = adapter.activities_by_id([a.crm_id for a in activities])
    assert sorted(by_id, key=lambda a: a.crm_id) == sorted(activities, key=lambda a: a.crm_id)
