"""Where a deal lives in amoCRM's UI (an amoCRM lead's card, AMOCRM.md §6.4)."""

from __future__ import annotations


def card_path(entity_type: str, crm_id: int | str) -> str:
    """Deals and our leads are both amoCRM leads: one card."""
    return f"/leads/detail/{int(crm_id)}"


def card_url(portal, entity_type: str, crm_id: int | str) -> str:
    return f"https://{portal.domain}{card_path(entity_type, crm_id)}"
