from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.apps import apps

from crmapp.models import Deal, Employee, InstallRecord, Portal
from crmapp.scoping import PortalOwned, PortalScopedManager, UnscopedQueryError

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _deal(portal, crm_id, **fields):
    return Deal.objects.create(
        portal=portal, crm_id=crm_id, created_at=NOW, modified_at=NOW, last_touch_at=NOW, **fields
    )


def _portal_models():
    return [
        model
        for model in apps.get_models()
        if model._meta.app_label in {"crmapp", "integrations", "webhooks", "reports", "frontend"}
        # The portals themselves, and the record of first installs that outlives a portal.
        and model not in (Portal, InstallRecord)
    ]


def test_it_makes_every_model_but_portal_belong_to_a_portal():
    for model in _portal_models():
        assert issubclass(model, PortalOwned), model
        assert isinstance(model._default_manager, PortalScopedManager), model


@pytest.mark.django_db
@pytest.mark.parametrize(
    "run",
    [
        lambda qs: list(qs),
        lambda qs: qs.count(),
        lambda qs: qs.exists(),
        lambda qs: qs.first(),
        lambda qs: list(qs.values_list("pk")),
        lambda qs: list(qs.iterator()),
        lambda qs: qs.aggregate(n=__import__("django.db.models").db.models.Count("pk")),
        lambda qs: qs.update(title="x"),
        lambda qs: qs.delete(),
    ],
    ids=["list", "count", "exists", "first", "values", "iterator", "aggregate", "update", "delete"],
)
def test_it_refuses_a_deal_query_without_a_portal(run, portal_a):
    _deal(portal_a, 1)
    with pytest.raises(UnscopedQueryError):
        run(Deal.objects.filter(title=""))
    assert Deal.all_portals.count() == 1


@pytest.mark.django_db
def test_it_refuses_every_portal_model_unscoped():
    for model in _portal_models():
        with pytest.raises(UnscopedQueryError):
            list(model.objects.all())


@pytest.mark.django_db
def test_it_refuses_a_none_portal(portal_a):
    with pytest.raises(UnscopedQueryError):
        Deal.objects.for_portal(None)
    with pytest.raises(UnscopedQueryError):
        Deal.objects.filter(portal=None)


@pytest.mark.django_db
def test_it_refuses_a_get_without_a_portal(portal_a):
    _deal(portal_a, 7)
    with pytest.raises(UnscopedQueryError):
        Deal.objects.get(crm_id=7)


@pytest.mark.django_db
def test_it_returns_only_the_named_portals_rows(portal_a, portal_b):
    _deal(portal_a, 1, title="A deal")
    _deal(portal_b, 1, title="B deal")

    assert [d.title for d in Deal.objects.for_portal(portal_a)] == ["A deal"]
    assert Deal.objects.filter(portal=portal_b).get(crm_id=1).title == "B deal"
    assert Deal.objects.filter(portal_id=portal_a.id).count() == 1


@pytest.mark.django_db
def test_it_keeps_scope_through_chained_querysets(portal_a):
    _deal(portal_a, 1, title="x")
    qs = Deal.objects.for_portal(portal_a).filter(title="x").exclude(crm_id=2).order_by("crm_id")
    assert qs.count() == 1


@pytest.mark.django_db
def test_it_lets_same_crm_id_live_in_two_portals(portal_a, portal_b):
    Employee.objects.create(portal=portal_a, crm_id=1, name="Anna")
    Employee.objects.create(portal=portal_b, crm_id=1, name="Boris")
    assert Employee.objects.for_portal(portal_b).get(crm_id=1).name == "Boris"
