from __future__ import annotations

from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"

    def ready(self) -> None:
        from crmapp import hooks
        from reports import aggregates
        from reports.models import DayFact, FactCheck, MonthFact

        hooks.facts_writer_register(aggregates)
        hooks.portal_data_models_register(DayFact, MonthFact, FactCheck)
        hooks.portal_time_zone_changed.connect(_facts_rebuild, dispatch_uid="reports-tz")


def _facts_rebuild(sender, portal, **kwargs) -> None:
    from reports.tasks import portal_facts_rebuild

    portal_facts_rebuild.delay(portal.pk)
