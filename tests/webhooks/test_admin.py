from __future__ import annotations

import pytest
from django.utils import timezone

from webhooks.models import InboundEvent


@pytest.mark.django_db
def test_it_shows_dead_letters_to_the_operator(admin_client, portal_a):
    now = timezone.now()
    InboundEvent.objects.create(
        portal=portal_a,
        key="k" * 64,
        name="ONCRMDEALUPDATE",
        entity_id=7,
        body="event=ONCRMDEALUPDATE&auth[access_token]=secret",
        received_at=now,
        next_attempt_at=now,
        status=InboundEvent.Status.DEAD,
        last_error="Bitrix24 error: ACCESS_DENIED",
    )

    page = admin_client.get("/admin/webhooks/inboundevent/?status__exact=dead").content.decode()

    assert "ACCESS_DENIED" in page
    assert "secret" not in page
