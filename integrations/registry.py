"""Which adapter speaks to a portal's CRM."""

from __future__ import annotations

from crmapp.models import Portal


def adapter_for(portal: Portal):
    if portal.kind == Portal.Kind.BITRIX24:
        from integrations.bitrix24.adapter import Bitrix24Adapter

        return Bitrix24Adapter(portal)
    raise ValueError(f"no adapter for CRM kind {portal.kind!r}")
