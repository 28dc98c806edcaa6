from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from crmapp.models import Portal


@pytest.mark.django_db
def test_it_lists_portals_as_json(make_portal):
    portal = make_portal(import_phase=Portal.ImportPhase.RUNNING, import_done=10, import_total=40)
    Portal.objects.filter(pk=portal.pk).update(trial_started_at=timezone.now() - timedelta(days=3))
    out = StringIO()

    call_command("portals", "--format", "json", stdout=out)

    [row] = json.loads(out.getvalue())
    assert row == {
        "key": portal.key,
        "kind": "bitrix24",
        "status": "active",
        "tier": "trial",
        "window_months": 24,
        "trial_days_left": 11,
        "import": {"phase": "running", "done": 10, "total": 40},
        "data_as_of": None,
    }


@pytest.mark.django_db
def test_it_shows_basic_after_the_trial(make_portal):
    portal = make_portal()
    Portal.objects.filter(pk=portal.pk).update(trial_started_at=timezone.now() - timedelta(days=15))
    out = StringIO()

    call_command("portals", stdout=out)

    assert portal.key in out.getvalue()
    assert "basic" in out.getvalue()


@pytest.mark.django_db
def test_it_says_when_nothing_is_installed():
    out = StringIO()
    call_command("portals", stdout=out)
    assert "No portals installed" in out.getvalue()
