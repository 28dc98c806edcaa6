"""Where a lead or deal lives in the Bitrix24 UI (the card a manager fixes it in)."""

from __future__ import annotations


def card_path(entity_type: str, crm_id: int | str) -> str:
    """The portal-relative path BX24.openPath() opens in the CRM's slider."""
    return f"/crm/{entity_type}/details/{crm_id}/"


def card_url(domain: str, entity_type: str, crm_id: int | str) -> str:
    return f"https://{domain}{card_path(entity_type, crm_id)}"


def card_url_for_portal(portal, entity_type: str, crm_id: int | str) -> str:
    return card_url(portal.domain, entity_type, crm_id)
