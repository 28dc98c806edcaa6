"""Which CRM a portal speaks: data, one line per CRM, resolved on first use.

Each entry names the module of one CRM's folder that implements integrations.base.Crm.
Everything CRM-specific the rest of the product needs is reached through these functions.
"""

from __future__ import annotations

import functools
from importlib import import_module

from django.utils.translation import gettext

from crmapp.models import Portal
from integrations.base import Crm, CrmAdapter

CRMS = {
    Portal.Kind.BITRIX24.value: "integrations.bitrix24.crm",
    Portal.Kind.AMOCRM.value: "integrations.amocrm.crm",
}


@functools.cache
def crm(kind: str) -> Crm:
    """The CRM of this kind (ValueError for a kind no entry names)."""
    try:
        return import_module(CRMS[kind])
    except KeyError:
        raise ValueError(f"no CRM registered for kind {kind!r}") from None


def crms() -> list[Crm]:
    return [crm(kind) for kind in CRMS]


def crms_configure() -> None:
    """At start-up: each CRM sets up its client library."""
    for each in crms():
        each.configure()


def adapter_for(portal: Portal) -> CrmAdapter:
    return crm(portal.kind).adapter(portal)


def card_url(portal: Portal, entity_type: str, crm_id: int | str) -> str:
    """The address of a lead's or deal's card in the portal's CRM."""
    return crm(portal.kind).card_url(portal, entity_type, crm_id)


def card_path(portal: Portal, entity_type: str, crm_id: int | str) -> str:
    """What the CRM's host script opens the card with (data-crm-path on a link)."""
    return crm(portal.kind).card_path(entity_type, crm_id)


def crm_name(portal: Portal) -> str:
    """The portal's CRM as the pages name it (translated)."""
    return gettext(crm(portal.kind).NAME)


def leads_are_deals(portal: Portal) -> bool:
    """The portal's CRM has no lead entity: its lead figures are computed on deals."""
    return crm(portal.kind).LEADS_ARE_DEALS


def emails_counted(portal: Portal) -> bool:
    """The portal's CRM gives us its e-mails (else e-mail counts are 0 there)."""
    return crm(portal.kind).EMAILS_COUNTED


def host_scripts(portal: Portal) -> list[str]:
    """The scripts a page framed by the portal's CRM loads to talk to it, in order."""
    return crm(portal.kind).host_scripts()


def crm_urls(kind: str) -> str:
    """The URLconf of the CRM's own pages (its install page), mounted at /<kind>/."""
    return CRMS[kind].rsplit(".", 1)[0] + ".urls"
