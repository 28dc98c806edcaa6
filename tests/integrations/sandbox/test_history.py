"""Generator: every stage history is a real portal's (chronological, ending in the entity's
current stage or status), except the planted gaps, which disagree on purpose."""

from __future__ import annotations

from pathlib import Path

import pytest

from integrations.sandbox.generator import PLANTED, generate
from integrations.sandbox.store import Store
from integrations.sandbox.timeutil import format_ts, to_ts

# Seeds × anchors: an ordinary day, a month's first midnight, a leap day in the afternoon.
RUNS = [
    (1, "2025-03-01T00:00:00+03:00"),
    (2, "2026-12-02T00:00:00+03:00"),
    (3, "2028-02-29T15:30:00+03:00"),
    (7, "2027-01-08T00:00:00+03:00"),
]

# (entity table, history table, stage column, semantic column, close time of a closed entity)
KINDS = {
    "lead": ("leads", "lead_history", "STATUS_ID", "STATUS_SEMANTIC_ID", "DATE_CLOSED"),
    "deal": ("deals", "deal_history", "STAGE_ID", "STAGE_SEMANTIC_ID", "CLOSEDATE"),
}


def _histories(store: Store, kind: str) -> list[dict]:
    """Every entity with its history rows in ID order (the order the CRM wrote them)."""
    table, history, stage, semantic, closed = KINDS[kind]
    entities = {
        row[0]: {"created": row[1], "stage": row[2], "semantic": row[3], "closed": row[4],
                 "moved": row[5], "modified": row[6], "rows": []}
        for row in store.query(
            f"SELECT ID, DATE_CREATE, {stage}, {semantic}, {closed}, MOVED_TIME, DATE_MODIFY "  # noqa: S608
            f"FROM {table}"
        )
    }  # fmt: skip
    for owner, type_id, at, row_stage in store.query(
        f"SELECT OWNER_ID, TYPE_ID, CREATED_TIME, {stage} FROM {history} ORDER BY ID"  # noqa: S608
    ):
        entities[owner]["rows"].append((type_id, at, row_stage))
    return [{"id": key, **value} for key, value in entities.items()]


def _defects(entity: dict, kind: str, now: float) -> list[str]:
    rows = entity["rows"]
    if not rows:
        return ["no history"]
    found = []
    times = [to_ts(at) for _, at, _ in rows]
    if times != sorted(times):
        found.append("rows not in time order")
    if rows[0][0] != 1 or rows[0][1] != entity["created"]:
        found.append("first row is not the creation")
    _, last_at, last_stage = rows[-1]
    if last_stage != entity["stage"] or last_at != entity["moved"]:
        found.append("last row is not the current stage")
    if not to_ts(entity["created"]) <= to_ts(entity["moved"]) <= to_ts(entity["modified"]) <= now:
        found.append("not created <= moved <= modified <= the anchor")
    if entity["semantic"] != "P":
        close = entity["closed"]
        expected = last_at if kind == "lead" else last_at[:10] + "T00:00:00+03:00"
        if close != expected:
            found.append("close time is not the last closing row")
    return found


@pytest.fixture(scope="module", params=RUNS, ids=[f"seed{s}-{a[:10]}" for s, a in RUNS])
def generated(request, tmp_path_factory) -> tuple[Store, float]:
    seed, anchor = request.param
    store = Store(tmp_path_factory.mktemp("history") / "portal.sqlite")
    now = to_ts(anchor)
    generate(store, seed=seed, scale="small", now=now)
    return store, now


def _defects_by_entity(store: Store, kind: str, now: float) -> tuple[dict, set[int]]:
    """Defects of every entity, and which of them are the planted gaps (changed at the anchor)."""
    defects, gaps = {}, set()
    for entity in _histories(store, kind):
        if found := _defects(entity, kind, now):
            defects[entity["id"]] = found
            if entity["modified"] == format_ts(now):
                gaps.add(entity["id"])
    return defects, gaps


@pytest.mark.parametrize("kind", ["lead", "deal"])
def test_it_writes_every_history_in_time_order_ending_in_the_current_stage(generated, kind):
    store, now = generated
    defects, gaps = _defects_by_entity(store, kind, now)
    assert {key: found for key, found in defects.items() if key not in gaps} == {}
    # The planted gaps disagree at their last row only.
    assert {tuple(defects[key]) for key in gaps} <= {
        ("last row is not the current stage",),
        ("last row is not the current stage", "close time is not the last closing row"),
    }
    assert len(gaps) == {"lead": 3, "deal": 2}[kind], PLANTED["history_gap"]


def test_it_plants_history_gaps_at_the_anchor(generated):
    store, now = generated
    stamp = format_ts(now)
    junk_after_open = store.scalar(
        "SELECT COUNT(*) FROM leads l WHERE STATUS_ID = 'JUNK' AND DATE_MODIFY = ? AND "
        "(SELECT STATUS_SEMANTIC_ID FROM lead_history h WHERE h.OWNER_ID = l.ID "
        "ORDER BY ID DESC LIMIT 1) = 'P'",
        (stamp,),
    )
    open_after_won = store.scalar(
        "SELECT COUNT(*) FROM deals d WHERE STAGE_SEMANTIC_ID = 'P' AND DATE_MODIFY = ? AND "
        "(SELECT STAGE_SEMANTIC_ID FROM deal_history h WHERE h.OWNER_ID = d.ID "
        "ORDER BY ID DESC LIMIT 1) = 'S'",
        (stamp,),
    )
    assert (junk_after_open, open_after_won) == (2, 2)


def test_it_keeps_medium_histories_consistent(tmp_path: Path):
    store = Store(tmp_path / "medium.sqlite")
    now = to_ts("2026-05-31T00:00:00+03:00")
    generate(store, seed=5, scale="medium", now=now)
    for kind in ("lead", "deal"):
        defects, gaps = _defects_by_entity(store, kind, now)
        assert set(defects) == gaps and len(gaps) == {"lead": 3, "deal": 2}[kind]
