from __future__ import annotations

from django.apps import AppConfig


class CrmappConfig(AppConfig):
    name = "crmapp"
    verbose_name = "CRM mirror"
