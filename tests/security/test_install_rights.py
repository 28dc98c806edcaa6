"""Only a portal admin installs or re-installs, and a reinstall keeps the reports."""

from __future__ import annotations

import re

import pytest

from crmapp.models import Deal, Portal
from reports.models import DayFact
from tests.conftest import install_post
from tests.security.test_event_secret import _manager


@pytest.mark.django_db
def test_a_manager_cannot_install_over_the_portal(
    client, installed, bitrix24, django_capture_on_commit_callbacks
):
    before = Portal.objects.get(pk=installed.pk)
    facts = DayFact.objects.for_portal(installed).count()
    manager = _manager(installed)
    payload = bitrix24.control.placement(user_id=manager)

    with django_capture_on_commit_callbacks(execute=True):
        response = install_post(client, bitrix24, payload["query"] | payload["body"])

    after = Portal.objects.get(pk=installed.pk)
    assert response.status_code == 403
    assert re.search("administrator|администратор", response.content.decode())
    assert (after.access_token, after.refresh_token) == (before.access_token, before.refresh_token)
    assert after.import_started_at == before.import_started_at
    assert DayFact.objects.for_portal(installed).count() == facts > 0


@pytest.mark.django_db
def test_an_admins_reinstall_keeps_the_reports_while_it_catches_up(
    client, installed, bitrix24, django_capture_on_commit_callbacks
):
    facts = DayFact.objects.for_portal(installed).count()
    deals = Deal.objects.for_portal(installed).count()

    with django_capture_on_commit_callbacks(execute=True):
        response = install_post(client, bitrix24, bitrix24.control.reinstall())

    after = Portal.objects.get(pk=installed.pk)
    assert response.status_code == 200
    assert after.import_phase == Portal.ImportPhase.DONE
    assert after.import_started_at == installed.import_started_at
    assert DayFact.objects.for_portal(after).count() == facts > 0
    assert Deal.objects.for_portal(after).count() == deals
