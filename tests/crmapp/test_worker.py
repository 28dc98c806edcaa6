from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from crmapp.models import Deal, Portal
from crmapp.tasks import portals_purge_uninstalled
from tests.conftest import wait_until


@pytest.mark.worker
def test_it_purges_an_uninstalled_portal_in_a_real_worker(make_portal, celery_worker_process):
    now = timezone.now()
    gone = make_portal(status=Portal.Status.UNINSTALLED, purge_after=now - timedelta(days=1))
    kept = make_portal()
    for portal in (gone, kept):
        Deal.objects.create(
            portal=portal, crm_id=1, created_at=now, modified_at=now, last_touch_at=now
        )

    portals_purge_uninstalled.apply_async(queue=celery_worker_process)

    assert wait_until(lambda: not Portal.objects.filter(pk=gone.pk).exists())
    assert not Deal.all_portals.filter(portal_id=gone.pk).exists()
    assert Deal.objects.for_portal(kept).count() == 1
