"""Bitrix24 as integrations.base.Crm: the one module the registry names for it."""

from __future__ import annotations

import hmac
from datetime import datetime

from django.db import transaction
from django.utils.translation import gettext_lazy, gettext_noop

from crmapp.lifecycle import portal_uninstall
from crmapp.models import Portal
from integrations.base import CrmEvent
from integrations.bitrix24.adapter import Bitrix24Adapter as adapter
from integrations.bitrix24.app_open import app_open
from integrations.bitrix24.events import bitrix24_event_parse
from integrations.bitrix24.host import host_scripts
from integrations.bitrix24.install import (
    install_event_confirm,
    uninstall_purge_after,
)
from integrations.bitrix24.install import portal_uninstall_confirm as uninstall_confirm
from integrations.bitrix24.links import card_path
from integrations.bitrix24.links import card_url_for_portal as card_url
from integrations.bitrix24.sdk import sdk_configure as configure
from integrations.bitrix24.views import install

# The brand as logs and answers name it; pages show gettext(NAME) ("Битрикс24").
NAME = gettext_noop("Bitrix24")
LEADS_ARE_DEALS = False
EMAILS_COUNTED = True
LIFECYCLE = {"ONAPPINSTALL": "install", "ONAPPUNINSTALL": "uninstall"}

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


def history_source_labels() -> dict[str, str]:
    """The import's progress line for each of Bitrix24Adapter.history_sources()."""
    return {
        "leads": gettext_lazy("leads"),
        "open_leads": gettext_lazy("older leads still in work"),
        "deals": gettext_lazy("deals"),
        "open_deals": gettext_lazy("older deals still in work"),
        "activities": gettext_lazy("calls, meetings, emails and tasks"),
        "planned_activities": gettext_lazy("planned activities"),
        "deal_history": gettext_lazy("deal stage history"),
        "lead_history": gettext_lazy("lead status history"),
    }


def event_parse(body: str) -> CrmEvent:
    """Bitrix24's form-encoded event as the neutral CrmEvent (pure)."""
    event = bitrix24_event_parse(body)
    return CrmEvent(
        name=event.name,
        account_id=event.member_id,
        entity_type=event.entity_type,
        action=event.action,
        entity_id=event.entity_id,
        lifecycle=LIFECYCLE.get(event.name, ""),
        clean=event.clean,
        known=event.is_known,
        proof=event.application_token,
    )


def event_portal(event: CrmEvent) -> Portal | None:
    portal = (
        Portal.objects.filter(kind=Portal.Kind.BITRIX24, member_id=event.account_id)
        .only("id", "status", "application_token", "key")
        .first()
    )
    return None if portal is None or portal.status == Portal.Status.UNINSTALLED else portal


def event_verified(portal: Portal, event: CrmEvent) -> bool:
    """Bitrix24 signs nothing; the per-installation application_token is the proof."""
    if portal.application_token:
        return hmac.compare_digest(portal.application_token, event.proof)
    # Before ONAPPINSTALL has told us the token, only ONAPPINSTALL itself is let in; its
    # processing confirms it through app.info before anything is trusted.
    return event.name == "ONAPPINSTALL"


def uninstall_event_receive(portal: Portal, event: CrmEvent, *, now: datetime) -> None:
    """Disabled at once, but nothing is deleted (CLEAN=1 or not) until the CRM confirms."""
    from integrations.tasks import portal_uninstall_confirm

    portal_uninstall(portal, purge_after=uninstall_purge_after(now, clean=False), now=now)
    transaction.on_commit(lambda: portal_uninstall_confirm.delay(portal.pk, event.clean))
