"""Done-when of issue 17: a status change in the amoCRM account reaches the report within
seconds, through the whole live path — amoCRM's hook to our receiver, the inbox, a real Celery
worker re-reading the lead, the mirror and the aggregates the efficiency report reads."""

from __future__ import annotations

import time
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from crmapp.models import Portal
from reports.efficiency import efficiency
from reports.scope import Viewer, scope_resolve
from tests.conftest import wait_until


def _won_this_month(portal: Portal, employee: int) -> int:
    today = timezone.localdate(timezone=ZoneInfo(portal.time_zone))
    scope = scope_resolve(portal, Viewer.operator(), start=today.replace(day=1), end=today)
    rows = {int(row["id"]): row for row in efficiency(scope)["employees"]}
    return rows[employee]["won_count"] if employee in rows else 0


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_won_lead_reaches_the_efficiency_report_within_seconds(
    amo_hooked, amo_account, celery_workers, tasks_to
):
    portal = amo_hooked
    info = amo_account.info
    celery_workers.start(
        AMOCRM_CLIENT_ID=info["client_id"],
        AMOCRM_CLIENT_SECRET=info["client_secret"],
        AMOCRM_REDIRECT_URI=info["redirect_uri"],
        AMOCRM_ACCOUNT_HOSTS=info["domain"],
        AMOCRM_REQUESTS_PER_SECOND="200",
        REQUESTS_CA_BUNDLE=info["ca_bundle"],
    )
    # Open leads of someone: which ones the sandbox's data offers, not fixed ids.
    (warm, warm_pipeline, warm_employee), (lead, pipeline, employee) = (
        amo_account.portal.store.query(
            "SELECT id, pipeline_id, responsible_user_id FROM amo_leads"
            " WHERE status_id NOT IN (142, 143) AND is_deleted = 0 ORDER BY id LIMIT 2"
        )
    )

    def won(lead_id: int, pipeline_id: int, employee_id: int) -> float:
        before = _won_this_month(portal, employee_id)
        started = time.monotonic()
        amo_account.control.request(
            "POST", f"/leads/{lead_id}", {"fields": {"status_id": 142, "pipeline_id": pipeline_id}}
        )
        assert wait_until(lambda: _won_this_month(portal, employee_id) == before + 1, timeout=30)
        return time.monotonic() - started

    won(warm, warm_pipeline, warm_employee)  # the first also waits for the worker to start
    print(f"a won lead reached the report in {won(lead, pipeline, employee):.1f} s")
