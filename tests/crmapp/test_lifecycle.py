from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crmapp.lifecycle import portals_purge_uninstalled
from crmapp.models import Deal, Department, Employee, Portal

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _fill(portal):
    department = Department.objects.create(portal=portal, crm_id=1, name="Sales")
    head = Employee.objects.create(portal=portal, crm_id=1, name="Head", department=department)
    department.head = head
    department.save()
    Deal.objects.create(
        portal=portal,
        crm_id=1,
        responsible=head,
        created_at=NOW,
        modified_at=NOW,
        last_touch_at=NOW,
    )


@pytest.mark.django_db
def test_it_purges_only_portals_past_their_retention(make_portal):
    due = make_portal(status=Portal.Status.UNINSTALLED, purge_after=NOW - timedelta(seconds=1))
    waiting = make_portal(status=Portal.Status.UNINSTALLED, purge_after=NOW + timedelta(days=1))
    active = make_portal()
    for portal in (due, waiting, active):
        _fill(portal)

    assert portals_purge_uninstalled(now=NOW) == [due.key]

    assert not Portal.objects.filter(pk=due.pk).exists()
    assert not Deal.all_portals.filter(portal_id=due.pk).exists()
    assert not Employee.all_portals.filter(portal_id=due.pk).exists()
    for kept in (waiting, active):
        assert Deal.objects.for_portal(kept).count() == 1
        assert Department.objects.for_portal(kept).get().head.name == "Head"
