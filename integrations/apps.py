from __future__ import annotations

from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"

    def ready(self) -> None:
        from crmapp.hooks import portal_history_window_grew
        from integrations.registry import crms_configure

        crms_configure()
        portal_history_window_grew.connect(_history_backfill, dispatch_uid="integrations-window")


def _history_backfill(sender, portal, **kwargs) -> None:
    from integrations.tasks import portal_history_backfill

    portal_history_backfill.delay(portal.pk)
