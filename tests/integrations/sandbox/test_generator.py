"""Generator: determinism, volumes and the planted special cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from integrations.sandbox.generator import generate
from integrations.sandbox.store import Store
from integrations.sandbox.timeutil import to_ts

NOW = to_ts("2025-03-01T00:00:00+03:00")


def _portal(tmp_path: Path, seed: int, name: str) -> Store:
    store = Store(tmp_path / f"{name}.sqlite")
    generate(store, seed=seed, scale="small", now=NOW)
    return store


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return _portal(tmp_path_factory.mktemp("gen"), 1, "seed1")


def test_it_gives_the_same_portal_for_the_same_seed(store: Store, tmp_path: Path) -> None:
    again = _portal(tmp_path, 1, "again")
    assert again.digest() == store.digest()


def test_it_gives_another_portal_for_another_seed(store: Store, tmp_path: Path) -> None:
    other = _portal(tmp_path, 2, "other")
    assert other.digest() != store.digest()


def test_it_generates_the_small_volumes(store: Store) -> None:
    counts = store.get_meta("generation")["counts"]
    assert 600 <= counts["deals"] <= 1000
    assert 1200 <= counts["leads"] <= 1800
    assert 3000 <= counts["activities"] <= 5000
    assert len(store.reference("users")) == 40
    assert len(store.reference("departments")) == 5


def _one(store: Store, sql: str) -> int:
    return int(store.scalar(sql))


REOPENED = """
    SELECT COUNT(DISTINCT h2.OWNER_ID) FROM deal_history h1
    JOIN deal_history h2 ON h2.OWNER_ID = h1.OWNER_ID AND h2.ID > h1.ID
    JOIN deals d ON d.ID = h1.OWNER_ID
    WHERE h1.STAGE_SEMANTIC_ID = 'S' AND h2.STAGE_SEMANTIC_ID = 'P'"""

PLANTED_CASES = {
    "idle open deals": "FROM deals WHERE CLOSED = 'N' AND LAST_ACTIVITY_TIME < '2025-02-01'",
    "open without planned activity": (
        "FROM deals d WHERE d.CLOSED = 'N' AND NOT EXISTS (SELECT 1 FROM activities a "
        "WHERE a.OWNER_TYPE_ID = 2 AND a.OWNER_ID = d.ID AND a.COMPLETED = 'N')"
    ),
    "won with zero amount": "FROM deals WHERE STAGE_SEMANTIC_ID = 'S' AND OPPORTUNITY = 0",
    "no contact and no company": "FROM deals WHERE COMPANY_ID = 0 AND CONTACT_ID IS NULL",
    "no source": "FROM deals WHERE SOURCE_ID IS NULL",
    "open, close date passed": "FROM deals WHERE CLOSED = 'N' AND CLOSEDATE < '2025-03-01'",
    "pipeline changes": "FROM deal_history WHERE TYPE_ID = 5",
    "converted leads": "FROM deals WHERE LEAD_ID IS NOT NULL",
    "idle open leads": (
        "FROM leads WHERE STATUS_SEMANTIC_ID = 'P' AND LAST_ACTIVITY_TIME < '2025-02-20'"
    ),
    "planned activities": "FROM activities WHERE COMPLETED = 'N' AND DEADLINE > '2025-03-01'",
    "utm marked leads": "FROM leads WHERE UTM_SOURCE IS NOT NULL AND UTM_CAMPAIGN IS NOT NULL",
}


def test_it_plants_reopened_deals(store: Store) -> None:
    assert _one(store, REOPENED) > 0
    assert _one(store, REOPENED + " AND d.STAGE_SEMANTIC_ID = 'S'") > 0  # won again
    assert _one(store, REOPENED + " AND d.STAGE_SEMANTIC_ID = 'P'") > 0  # left open


def test_it_plants_repeat_buyers(store: Store) -> None:
    repeat = """SELECT COUNT(*) FROM (SELECT COMPANY_ID FROM deals
        WHERE STAGE_SEMANTIC_ID = 'S' AND COMPANY_ID > 0
        GROUP BY COMPANY_ID HAVING COUNT(*) >= 2)"""
    assert _one(store, repeat) >= 5


def test_it_plants_data_quality_and_forgotten_cases(store: Store) -> None:
    for name, sql in PLANTED_CASES.items():
        assert _one(store, "SELECT COUNT(*) " + sql) > 0, name
    fired = [int(u["ID"]) for u in store.reference("users") if not u["ACTIVE"]]
    assert fired
    marks = ", ".join("?" for _ in fired)
    owned = store.scalar(f"SELECT COUNT(*) FROM deals WHERE ASSIGNED_BY_ID IN ({marks})", fired)  # noqa: S608
    assert owned > 0


def test_it_keeps_every_activity_kind(store: Store) -> None:
    rows = store.query("SELECT DISTINCT TYPE_ID, PROVIDER_ID FROM activities")
    kinds = {(t, p) for t, p in rows}
    for expected in [
        (1, "CRM_MEETING"),
        (2, "VOXIMPLANT_CALL"),
        (3, "TASKS"),
        (4, "CRM_EMAIL"),
        (6, "CRM_TODO"),
        (6, "TASKS_TASK"),
        (6, "IMOPENLINES_SESSION"),
    ]:
        assert expected in kinds


def test_it_numbers_rows_in_creation_order(store: Store) -> None:
    for table, column in (
        ("deals", "DATE_CREATE"),
        ("leads", "DATE_CREATE"),
        ("activities", "CREATED"),
        ("deal_history", "CREATED_TIME"),
    ):
        values = [r[0] for r in store.query(f"SELECT {column} FROM {table} ORDER BY ID")]  # noqa: S608
        assert values == sorted(values), table
