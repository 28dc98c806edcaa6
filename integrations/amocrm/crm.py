"""amoCRM as integrations.base.Crm: the one module the registry names for it."""

from __future__ import annotations

import hmac
from datetime import datetime

from django.utils.translation import gettext_noop

from crmapp.models import Portal
from integrations.amocrm.adapter import AmoCRMAdapter as adapter
from integrations.amocrm.adapter import history_source_labels
from integrations.amocrm.app_open import app_open
from integrations.amocrm.events import amocrm_events_parse as event_parse
from integrations.amocrm.host import host_scripts
from integrations.amocrm.links import card_path, card_url
from integrations.amocrm.revoked import portal_revoke
from integrations.amocrm.views import oauth_callback as install
from integrations.base import CrmEvent
from integrations.errors import InvalidPayload

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
    "event_parse",
    "event_portal",
    "event_verified",
    "history_source_labels",
    "host_scripts",
    "install",
    "install_event_confirm",
    "uninstall_confirm",
    "uninstall_event_receive",
]


def configure() -> None:
    """Nothing to set up: the client reads its settings on each call."""


def event_portal(event: CrmEvent) -> Portal | None:
    """The installed portal of the hook's account[id]."""
    portal = (
        Portal.objects.filter(kind=Portal.Kind.AMOCRM, member_id=event.account_id)
        .only("id", "status", "application_token", "key", "kind")
        .first()
    )
    return None if portal is None or portal.status == Portal.Status.UNINSTALLED else portal


def event_verified(portal: Portal, event: CrmEvent) -> bool:
    """amoCRM signs nothing: the secret token in the hook's URL is the proof (the portal was
    found by the body's account[id], so both must belong to it)."""
    return bool(portal.application_token) and hmac.compare_digest(
        portal.application_token, event.proof
    )


def install_event_confirm(portal: Portal, body: str) -> None:
    """amoCRM sends no install event (the install is the OAuth callback)."""
    raise InvalidPayload("amoCRM sends no install event")


def uninstall_event_receive(portal: Portal, event: CrmEvent, *, now: datetime) -> None:
    """amoCRM's uninstall is the signed "access revoked" call (integrations.amocrm.revoked),
    verified before it gets here: disable now, purge after the retention period."""
    portal_revoke(portal, now=now)


def uninstall_confirm(portal: Portal, *, clean: bool, now: datetime) -> bool:
    """The "access revoked" call is signed with our client secret: it needs no asking back."""
    return True
