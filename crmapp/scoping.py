"""Tenant scoping: a query on portal data must name its portal, or it does not run.

Every model that belongs to a portal uses `PortalScopedManager` as its default manager. Its
querysets refuse to hit the database until they are narrowed to one portal, either with
`.for_portal(portal)` or by filtering on `portal` / `portal_id` (as related managers such as
`portal.deals` do). Operator tools that really mean "all portals" use `Model.all_portals`.
"""

from __future__ import annotations

from django.db import models


class UnscopedQueryError(RuntimeError):
    """A query on portal data was about to run without naming its portal."""


_PORTAL_KEYS = frozenset({"portal", "portal_id", "portal__in", "portal_id__in", "portal__pk"})


class PortalScopedQuerySet(models.QuerySet):
    _portal_scoped = False

    def for_portal(self, portal) -> PortalScopedQuerySet:
        if portal is None:
            raise UnscopedQueryError(f"{self.model.__name__}: for_portal() needs a portal")
        clone = self.filter(portal=portal)
        return clone

    def _filter_or_exclude(self, negate, args, kwargs):
        clone = super()._filter_or_exclude(negate, args, kwargs)
        if not negate and not args and _PORTAL_KEYS.intersection(kwargs):
            if any(kwargs[key] is None for key in _PORTAL_KEYS.intersection(kwargs)):
                raise UnscopedQueryError(f"{self.model.__name__}: portal filter is None")
            clone._portal_scoped = True
        return clone

    def _clone(self):
        clone = super()._clone()
        clone._portal_scoped = self._portal_scoped
        return clone

    def _require_portal(self) -> None:
        if not self._portal_scoped:
            raise UnscopedQueryError(
                f"{self.model.__name__} query without a portal: use .for_portal(portal)"
            )

    def _fetch_all(self):
        if self._result_cache is None:
            self._require_portal()
        super()._fetch_all()

    def iterator(self, *args, **kwargs):
        self._require_portal()
        return super().iterator(*args, **kwargs)

    def count(self):
        self._require_portal()
        return super().count()

    def exists(self):
        self._require_portal()
        return super().exists()

    def aggregate(self, *args, **kwargs):
        self._require_portal()
        return super().aggregate(*args, **kwargs)

    def update(self, **kwargs):
        self._require_portal()
        return super().update(**kwargs)

    def delete(self):
        self._require_portal()
        return super().delete()

    def explain(self, *args, **kwargs):
        self._require_portal()
        return super().explain(*args, **kwargs)


class PortalScopedManager(models.Manager.from_queryset(PortalScopedQuerySet)):
    pass


class PortalOwned(models.Model):
    """Base of every row that belongs to a portal."""

    portal = models.ForeignKey("crmapp.Portal", on_delete=models.CASCADE, related_name="+")

    objects = PortalScopedManager()
    all_portals = models.Manager()  # noqa: DJ012 (a manager, not a field)

    class Meta:
        abstract = True
        base_manager_name = "all_portals"
