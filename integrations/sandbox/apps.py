from __future__ import annotations

from django.apps import AppConfig


class SandboxConfig(AppConfig):
    """The sandbox CRMs' pages for the demo and tests (the CRM host page, its JS stand-ins)."""

    name = "integrations.sandbox"
    label = "sandbox"
    verbose_name = "Sandbox CRMs"
