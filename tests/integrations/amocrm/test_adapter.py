"""The amoCRM adapter's reminders, paid state and event subscription, against the sandbox."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from integrations.records import NoticeLine
from integrations.registry import adapter_for

pytestmark = pytest.mark.django_db


def _tasks(store, since_id: int) -> list[dict]:
    cursor = store.conn.execute("SELECT * FROM amo_tasks WHERE id > ? ORDER BY id", (since_id,))
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_a_reminder_is_one_task_a_day_listing_the_cards(amo_portal, amo_account):
    store = amo_account.portal.store
    user, lead, other = store.query(
        "SELECT responsible_user_id, id, (SELECT MAX(id) FROM amo_leads) FROM amo_leads"
        " WHERE status_id NOT IN (142, 143) ORDER BY id LIMIT 1"
    )[0]
    last_task = store.scalar("SELECT MAX(id) FROM amo_tasks")
    card = f"https://{amo_portal.domain}/leads/detail/{{}}"
    lines = [
        NoticeLine("Forgotten deals:"),
        NoticeLine("idle 20 days", link_url=card.format(lead), link_text="Поставка #1"),
        NoticeLine("idle 15 days", link_url=card.format(other), link_text="Поставка #2"),
    ]
    adapter = adapter_for(amo_portal)
    adapter.notify(user, lines, tag="forgotten-deals-1")
    adapter.notify(user, lines, tag="forgotten-deals-1")  # the same day: nothing new
    (task,) = _tasks(store, last_task)
    assert (task["responsible_user_id"], task["task_type_id"]) == (user, 1)
    assert (task["entity_id"], task["entity_type"]) == (lead, "leads")
    text = task["text"].split("\n")
    assert text[0] == "forgotten-deals-1"
    assert text[1] == "Forgotten deals:"
    assert text[2] == f"Поставка #1 — idle 20 days {card.format(lead)}"
    assert card.format(other) in text[3]
    zone = ZoneInfo(amo_portal.time_zone)
    today = datetime.fromtimestamp(task["created_at"], zone).date()
    assert task["complete_till"] == int(datetime.combine(today, time(23, 59, 59), zone).timestamp())
    # Another reminder (another tag) is another task.
    adapter_for(amo_portal).notify(user, lines[:2], tag="quality-1")
    assert len(_tasks(store, last_task)) == 2


def test_the_paid_state_is_left_to_the_operator_and_the_trial(amo_portal):
    state = adapter_for(amo_portal).paid_state()
    assert (state.tier, state.days_left) == (None, None)


class _Pages:
    """A client whose one listing holds `total` rows (amoCRM's paging: 204 past the end)."""

    def __init__(self, total: int) -> None:
        self.total, self.requests = total, 0

    def get(self, path, params):
        self.requests += 1
        query = dict(params)
        limit, page = query["limit"], query["page"]
        rows = max(0, min(limit, self.total - (page - 1) * limit))
        return {"_embedded": {"leads": [{"id": i} for i in range(rows)]}} if rows else None


@pytest.mark.parametrize("total", [0, 1, 249, 250, 251, 500, 1251, 10_000])
def test_counts_come_from_finding_the_last_page(total):
    from crmapp.models import Portal
    from integrations.amocrm.adapter import AmoCRMAdapter

    client = _Pages(total)
    adapter = AmoCRMAdapter(Portal(kind=Portal.Kind.AMOCRM), client=client)
    assert adapter._count("/api/v4/leads", [], "leads", 250) == total
    assert client.requests <= 2 * max(1, total // 250).bit_length() + 2
