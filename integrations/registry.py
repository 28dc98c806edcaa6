"""Which adapter speaks to a portal's CRM."""

from __future__ import annotations

from crmapp.models import Portal


def adapter_for(portal: Portal):
    if portal.kind == Portal.Kind.BITRIX24:
        from integrations.bitrix24.adapter import Bitrix24Adapter

        return Bitrix24Adapter(portal)
    raise ValueError(f"no adapter for CRM kind {portal.kind!r}")


def card_url(portal: Portal, entity_type: str, crm_id: int | str) -> str:
    """The address of a lead's or deal's card in the portal's CRM."""
    if portal.kind == Portal.Kind.BITRIX24:
        from integrations.bitrix24.links import card_url as bitrix24_card_url

        return bitrix24_card_url(portal.domain, entity_type, crm_id)
    raise ValueError(f"no card links for CRM kind {portal.kind!r}")
