"""amoCRM API v4 JSON (the documented and captured fixtures) → neutral records."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from integrations.amocrm import normalize
from integrations.errors import InvalidPayload
from integrations.records import Utm

# As the sandbox's shape tests find them: the shared folder beside the repository.
FIXTURES = Path(__file__).resolve().parents[3] / ".." / "shared" / "crm" / "fixtures"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"amocrm_{name}.json").read_text())


def embedded(name: str, key: str) -> list[dict]:
    return fixture(name)["_embedded"][key]


def at(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def test_groups_become_departments_headed_by_their_g_user():
    groups = [{"id": 0, "name": "Отдел продаж"}, {"id": 267688, "name": "Москва"},
              {"id": 267690, "name": "Питер"}]  # fmt: skip
    users = embedded("api_v4_users_team_constructed", "users")
    departments = {d.crm_id: d for d in normalize.departments_from_amo(groups, users)}
    assert departments[267688].head_crm_id == 939801  # rights.leads.view == "G" in the group
    assert departments[0].head_crm_id is None  # the admin sees all ("A"), he heads nothing
    assert departments[267690].head_crm_id is None  # a group of managers only
    assert [d.name for d in departments.values()] == ["Отдел продаж", "Москва", "Питер"]


def test_users_become_employees_with_their_group_active_flag_and_email():
    users = {u["id"]: u for u in embedded("api_v4_users_team_constructed", "users")}
    admin = normalize.employee_from_amo(users[504141])
    assert (admin.name, admin.email, admin.active) == ("Анна Админова", "admin@example.com", True)
    assert admin.department_crm_id == 0  # group_id null: the default group
    assert normalize.employee_from_amo(users[939802]).department_crm_id == 267688
    fired = dict(users[939803], rights=dict(users[939803]["rights"], is_active=False))
    assert normalize.employee_from_amo(fired).active is False


def test_pipeline_statuses_become_stages_incoming_first_won_142_lost_143():
    (pipeline,) = embedded("api_v4_pipelines", "pipelines")
    record = normalize.pipeline_from_amo(pipeline)
    assert (record.crm_id, record.name, record.is_default) == (6950551, "Pipeline", True)
    stages = normalize.stages_from_amo(pipeline)
    assert [(s.crm_id, s.semantic) for s in stages] == [
        ("6950551:58141803", "open"),
        ("6950551:58141807", "open"),
        ("6950551:142", "won"),
        ("6950551:143", "lost"),
    ]
    assert [s.sort for s in stages] == sorted(s.sort for s in stages)
    assert {s.entity_type for s in stages} == {"deal"}
    assert stages[2].color == "#ccff66"
    assert normalize.first_status(pipeline) == 58141803
    # Without the incoming stage, the first open stage is where a lead starts.
    assert normalize.first_status(dict(pipeline, is_unsorted_on=False)) == 58141807


def test_the_same_status_ids_in_two_pipelines_are_two_stages():
    (pipeline,) = embedded("api_v4_pipelines", "pipelines")
    other = json.loads(json.dumps(pipeline).replace("6950551", "6950552"))
    ids = {s.crm_id for p in (pipeline, other) for s in normalize.stages_from_amo(p)}
    assert len(ids) == 8


def test_a_lead_becomes_a_deal_with_first_company_main_contact_and_itself_as_lead():
    row = fixture("api_v4_lead_by_id_with_contacts_loss_reason")
    deal = normalize.deal_from_amo(row, currency="RUB")
    assert (deal.crm_id, deal.title, deal.amount, deal.currency) == (
        3912171, "Example", Decimal("12.00"), "RUB")  # fmt: skip
    assert (deal.pipeline_crm_id, deal.stage_crm_id, deal.semantic) == (
        3104455, "3104455:143", "lost")  # fmt: skip
    assert (deal.company_crm_id, deal.contact_crm_id, deal.lead_crm_id) == (
        10971463, 10971465, 3912171)  # fmt: skip
    assert deal.responsible_crm_id == 504141
    assert (deal.created_at, deal.modified_at, deal.close_date) == (
        at(1585299171), at(1590683337), at(1590683337))  # fmt: skip
    assert deal.source == ""


def test_a_lead_without_contacts_or_companies_and_a_won_one():
    row = embedded("api_v4_leads_list_page2", "leads")[0]
    deal = normalize.deal_from_amo(row)
    assert (deal.company_crm_id, deal.contact_crm_id, deal.semantic) == (None, None, "won")
    assert deal.utm == Utm()


def test_the_main_contact_is_chosen_over_the_first():
    row = fixture("api_v4_lead_by_id_with_contacts_loss_reason")
    row["_embedded"]["contacts"] = [{"id": 1, "is_main": False}, {"id": 2, "is_main": True}]
    assert normalize.deal_from_amo(row).contact_crm_id == 2


def test_utm_marks_come_from_tracking_fields_by_code_not_by_id():
    fields = fixture("lead_utm_fields_constructed")["custom_fields_values"]
    assert normalize.utm_from_amo(fields) == Utm("yandex", "cpc", "spring_sale", "banner_a", "crm")
    renumbered = [dict(f, field_id=f["field_id"] + 1000) for f in fields]
    assert normalize.utm_from_amo(renumbered) == normalize.utm_from_amo(fields)
    real = fixture("api_v4_lead_tracking_data_real")
    rows = real["_embedded"]["leads"] if "_embedded" in real else [real]
    # The real capture holds only referrer and page fields: no UTM mark is invented.
    assert {normalize.utm_from_amo(r.get("custom_fields_values")) for r in rows} == {Utm()}


def test_source_ids_and_the_sources_amocrm_names():
    row = dict(embedded("api_v4_leads_list_page2", "leads")[0], source_id=9619)
    assert normalize.deal_from_amo(row).source == "9619"
    sources = normalize.sources_from_amo(embedded("api_v4_sources_list", "sources"))
    assert [(s.crm_id, s.name) for s in sources] == [("9619", "Номер отдела продаж"),
                                                      ("4460", "Лендинг")]  # fmt: skip


def test_a_lead_is_also_a_lead_record_in_the_neutral_statuses():
    row = fixture("api_v4_lead_by_id_with_contacts_loss_reason")
    lost = normalize.lead_from_amo(row, first_status_id=31881112)
    assert (lost.crm_id, lost.status_crm_id, lost.semantic) == (3912171, "LOST", "lost")
    assert lost.closed_at == at(1590683337)
    new = normalize.lead_from_amo(dict(row, status_id=31881112), first_status_id=31881112)
    assert (new.status_crm_id, new.semantic) == ("NEW", "open")
    in_work = normalize.lead_from_amo(dict(row, status_id=31881115), first_status_id=31881112)
    assert in_work.status_crm_id == "IN_WORK"
    won = normalize.lead_from_amo(dict(row, status_id=142), first_status_id=31881112)
    assert (won.status_crm_id, won.semantic) == ("WON", "won")
    stages = {s.crm_id: s for s in normalize.lead_stages()}
    assert [s.crm_id for s in sorted(stages.values(), key=lambda s: s.sort)] == [
        "NEW", "IN_WORK", "WON", "LOST"]  # fmt: skip
    assert stages["NEW"].semantic == "open" and stages["WON"].semantic == "won"


def test_status_change_events_become_history_rows_and_the_creation_row():
    events = embedded("api_v4_events_lead_history_constructed", "events")
    moves = sorted((e for e in events if e["type"] == "lead_status_changed"),
                   key=lambda e: e["created_at"])  # fmt: skip
    first = {3104455: 31881112}
    rows = [normalize.status_change_from_amo(e, entity_type="deal", first_statuses=first)
            for e in moves]  # fmt: skip
    assert [(r.stage_crm_id, r.kind, r.semantic) for r in rows] == [
        ("3104455:31881115", 2, "open"),
        ("3104455:31881118", 2, "open"),
        ("3104455:142", 3, "won"),
    ]
    assert rows[-1].changed_at == at(1709290000)
    assert rows[0].owner_crm_id == 3912172 and rows[0].pipeline_crm_id == 3104455
    lead = {"id": 3912172, "created_at": 1709280000, "pipeline_id": 3104455, "status_id": 142}
    created = normalize.creation_from_amo(lead, moves[0], entity_type="deal", first_statuses=first)
    assert (created.crm_id, created.kind, created.stage_crm_id, created.changed_at) == (
        "3912172", 1, "3104455:31881112", at(1709280000))  # fmt: skip
    never_moved = normalize.creation_from_amo(lead, None, entity_type="lead", first_statuses=first)
    assert (never_moved.stage_crm_id, never_moved.semantic) == ("WON", "won")
    as_lead = normalize.creation_from_amo(lead, moves[0], entity_type="lead", first_statuses=first)
    assert (as_lead.stage_crm_id, as_lead.pipeline_crm_id) == ("NEW", None)


def test_a_move_to_another_pipeline_is_a_pipeline_change():
    event = embedded("api_v4_events_lead_history_constructed", "events")[0]
    event = dict(event, value_before=[{"lead_status": {"id": 5, "pipeline_id": 1}}])
    row = normalize.status_change_from_amo(event, entity_type="deal", first_statuses={})
    assert row.kind == 5


def test_event_ids_order_as_numbers_and_stay_above_every_lead_id():
    ids = ["01hq00000000000000000000e1", "01hq00000000000000000000e2", "01pz58t6p04vwnc1xk2tg0wkqp"]
    numbers = [int(normalize.history_crm_id(i, kind)) for i in ids for kind in ("lead", "deal")]
    assert numbers == sorted(numbers) and len(set(numbers)) == 6
    assert min(numbers) > 2**63  # lead ids (creation rows) are BigIntegers
    # The sandbox writes "{time:010x}{n:016x}": the same alphabet's first 16 letters.
    assert normalize.event_number("0065f1a2b30000000000000001") < normalize.event_number(
        "0065f1a2b30000000000000002"
    )
    assert all(len(normalize.history_crm_id(i, "deal")) <= 64 for i in ids)
    for bad in ("01hq-not-an-id", "42"):
        with pytest.raises(InvalidPayload):
            normalize.event_number(bad)


def test_not_a_status_change_is_refused():
    event = embedded("api_v4_events_lead_history_constructed", "events")[1]
    with pytest.raises(InvalidPayload):
        normalize.status_change_from_amo(event, entity_type="deal", first_statuses={})


def test_tasks_are_meetings_calls_or_other_and_happen_when_completed():
    meeting = embedded("api_v4_tasks_list_completed_meetings", "tasks")[0]
    record = normalize.activity_from_task(meeting, completed_at=at(1575364800))
    assert (record.kind, record.completed, record.completed_at) == ("meeting", True, at(1575364800))
    assert record.crm_id == normalize.activity_crm_id("task", 7087)
    assert (record.owner_type, record.owner_crm_id, record.responsible_crm_id) == (
        "deal", 167353, 123123)  # fmt: skip
    assert (record.created_at, record.deadline) == (at(1575364000), at(1575665940))
    # Without its completion event, a completed task happened at its last update.
    assert normalize.activity_from_task(meeting).completed_at == at(1575364851)
    task = fixture("api_v4_task_by_id_with_result")
    assert normalize.activity_from_task(dict(task, task_type_id=1)).kind == "call"
    assert normalize.activity_from_task(dict(task, task_type_id=7)).kind == "other"
    open_task = normalize.activity_from_task(dict(task, is_completed=False))
    assert (open_task.completed, open_task.completed_at) == (False, None)


def test_call_notes_are_calls_made_when_written():
    incoming, outgoing = embedded("api_v4_leads_notes_calls_constructed", "notes")
    record = normalize.activity_from_call_note(incoming)
    assert (record.kind, record.completed, record.completed_at) == ("call", True, at(1709277300))
    assert (record.owner_type, record.owner_crm_id) == ("deal", 3912172)
    assert record.crm_id == normalize.activity_crm_id("note", 76787983)
    assert "+79999999999" in record.subject
    assert normalize.activity_from_call_note(outgoing).completed_at == at(1709280900)
    common = embedded("api_v4_leads_notes_list", "notes")[0]
    if common["note_type"] not in normalize.CALL_NOTE_TYPES:
        with pytest.raises(InvalidPayload):
            normalize.activity_from_call_note(common)


def test_task_and_note_ids_never_collide_and_invert():
    for amo_id in (1, 7087, 60_000_001, 2**40):
        task = normalize.activity_crm_id("task", amo_id)
        note = normalize.activity_crm_id("note", amo_id)
        assert task != note
        assert normalize.activity_source(task) == ("task", amo_id)
        assert normalize.activity_source(note) == ("note", amo_id)
    with pytest.raises(ValueError):
        normalize.activity_crm_id("email", 1)


def test_missing_times_and_bad_ids_are_refused():
    row = fixture("api_v4_lead_by_id_with_contacts_loss_reason")
    with pytest.raises(InvalidPayload):
        normalize.deal_from_amo(dict(row, created_at=None))
    with pytest.raises(InvalidPayload):
        normalize.deal_from_amo(dict(row, responsible_user_id="x"))
