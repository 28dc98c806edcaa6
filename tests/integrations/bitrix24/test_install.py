from __future__ import annotations

import pytest

from crmapp.models import Deal, Employee, Lead, Pipeline, Portal, Stage
from tests.conftest import install_post


@pytest.mark.django_db
def test_it_installs_and_imports_the_sandbox_portal(
    client, bitrix24, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = install_post(client, bitrix24)

    assert response.status_code == 200, response.content
    assert b"BX24.installFinish()" in response.content
    portal = Portal.objects.get()
    counts = bitrix24.info["portal"]["counts"]
    assert portal.import_phase == Portal.ImportPhase.DONE, portal.import_error
    assert Deal.objects.for_portal(portal).count() > 0
    print(counts, Deal.objects.for_portal(portal).count(), Lead.objects.for_portal(portal).count())
    assert Pipeline.objects.for_portal(portal).count() == 3
    assert Stage.objects.for_portal(portal).filter(semantic="won").exists()
    assert Employee.objects.for_portal(portal).filter(active=False).exists()
