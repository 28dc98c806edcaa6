"""amoCRM as integrations.base.Crm: the one module the registry names for it."""

from __future__ import annotations

from django.utils.translation import gettext_noop

from integrations.amocrm.adapter import AmoCRMAdapter as adapter
from integrations.amocrm.adapter import history_source_labels
from integrations.amocrm.app_open import app_open
from integrations.amocrm.host import host_scripts
from integrations.amocrm.links import card_path, card_url
from integrations.amocrm.views import oauth_callback as install

# The brand as logs and answers name it; pages show gettext(NAME).
NAME = gettext_noop("amoCRM")
# amoCRM has no lead entity (its "leads" are our deals) and its API v4 gives no e-mails.
LEADS_ARE_DEALS = True
EMAILS_COUNTED = False

__all__ = [
    "EMAILS_COUNTED",
    "LEADS_ARE_DEALS",
    "NAME",
    "adapter",
    "app_open",
    "card_path",
    "card_url",
    "configure",
    "history_source_labels",
    "host_scripts",
    "install",
]


def configure() -> None:
    """Nothing to set up: the client reads its settings on each call."""
