"""Sales-floor links: the secret address of an office TV's board, created and revoked by an
admin; a revoked link, or a portal no longer served, shows nothing."""

from __future__ import annotations

import secrets
from datetime import datetime

from crmapp.models import Portal
from reports.models import TvLink


def tv_link_create(portal: Portal, *, name: str, by: int | None, now: datetime) -> TvLink:
    return TvLink.objects.create(
        portal=portal,
        token=secrets.token_urlsafe(32),
        name=name[:100],
        created_by_crm_id=by,
        created_at=now,
    )


def tv_link_revoke(portal: Portal, *, link_id: int, now: datetime) -> bool:
    return bool(
        TvLink.objects.for_portal(portal)
        .filter(pk=link_id, revoked_at__isnull=True)
        .update(revoked_at=now)
    )


def tv_link_portal(token: str) -> Portal | None:
    """The portal a sales-floor link shows, while the link stands and the portal is open."""
    link = (
        TvLink.all_portals.filter(token=token, revoked_at__isnull=True)
        .select_related("portal")
        .first()
    )
    if link is None or link.portal.status not in (Portal.Status.ACTIVE, Portal.Status.NEEDS_REAUTH):
        return None
    return link.portal
