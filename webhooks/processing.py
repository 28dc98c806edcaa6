"""Applying inbox events: re-read the current state of what changed, then mirror it.

Bitrix24 sends only the id of a changed entity, in no guaranteed order and possibly twice, so
an event is a hint: the entity is fetched as it is now. A burst of events of one portal is
applied as one batch (one list call per entity type).
"""

from __future__ import annotations

import hmac
import logging
from collections import defaultdict

from b24pysdk.errors import BitrixSDKException
from django.conf import settings

from crmapp.models import Portal
from integrations.errors import InvalidPayload
from integrations.sync import entities_delete, entities_refresh
from integrations.tokens import TokenPair, portal_tokens_store
from webhooks.bitrix24.parse import bitrix24_event_parse
from webhooks.models import InboundEvent

log = logging.getLogger(__name__)


def inbox_apply(portal: Portal, events: list[InboundEvent]) -> None:
    """Apply a claimed batch of CRM entity events (CrmError when the CRM cannot be read)."""
    upserts: dict[str, set[int]] = defaultdict(set)
    deletes: dict[str, set[int]] = defaultdict(set)
    for event in events:
        if event.action == "upsert":
            upserts[event.entity_type].add(event.entity_id)
        elif event.action == "delete":
            deletes[event.entity_type].add(event.entity_id)
    for entity_type, ids in deletes.items():
        # A later add of the same id in this batch wins (ids are never reused, but be safe).
        entities_delete(portal, entity_type, ids - upserts[entity_type])
    if any(upserts.values()):
        entities_refresh(portal, upserts)


def portal_install_confirm(portal: Portal, event: InboundEvent) -> None:
    """ONAPPINSTALL (it may come late): keep its application_token once Bitrix24 confirms,
    through app.info called with the event's own token, that the event is genuine."""
    from integrations.bitrix24.install import access_token_is_admin
    from integrations.bitrix24.sdk import bitrix_app

    parsed = bitrix24_event_parse(event.body)
    if portal.application_token and hmac.compare_digest(
        portal.application_token, parsed.application_token
    ):
        return
    if not parsed.access_token:
        raise InvalidPayload("ONAPPINSTALL without a token cannot be confirmed")
    try:
        info = bitrix_app().get_app_info(parsed.access_token).result
    except BitrixSDKException as error:
        raise InvalidPayload(f"Bitrix24 did not confirm ONAPPINSTALL: {error}") from error
    if info.client_id != settings.BITRIX24_CLIENT_ID or info.install.member_id != portal.member_id:
        raise InvalidPayload("ONAPPINSTALL belongs to another application or portal")
    # app.info accepts any employee's token of this app; an install is made by an admin.
    if not access_token_is_admin(portal.domain, parsed.access_token):
        log.error("ALERT: ONAPPINSTALL of %s carries a non-admin's token: refused", portal)
        raise InvalidPayload("ONAPPINSTALL was not made by a portal administrator")
    portal.application_token = parsed.application_token
    portal.save(update_fields=["application_token"])
    if parsed.refresh_token:
        portal_tokens_store(portal, TokenPair(parsed.access_token, parsed.refresh_token))
    log.info("application token of %s confirmed by ONAPPINSTALL", portal)
