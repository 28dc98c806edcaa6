"""The CRM's own verdict on an account (unpaid, blocked), kept so nobody hammers it.

amoCRM answers 402 when the subscription has ended and 403 to every request once it has
blocked an account's API access; both are lifted by people, not by retrying. So the state is
stored, shown (app page, `manage.py portals`), and requests of that portal wait an hour
between probes; the first answer that is neither clears it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from crmapp.models import Portal

log = logging.getLogger(__name__)
PROBE_INTERVAL = timedelta(hours=1)


def portal_crm_state_mark(portal: Portal, state: str, *, now: datetime) -> None:
    if portal.crm_state != state:
        log.error("ALERT: %s says %s is %s", portal.kind, portal, Portal.CrmState(state).label)
    portal.crm_state, portal.crm_state_at = state, now
    Portal.objects.filter(pk=portal.pk).update(crm_state=state, crm_state_at=now)


def portal_crm_state_clear(portal: Portal) -> None:
    if portal.crm_state:
        log.info("%s answers again (was %s)", portal, portal.crm_state)
        portal.crm_state, portal.crm_state_at = Portal.CrmState.OK, None
        Portal.objects.filter(pk=portal.pk).update(crm_state="", crm_state_at=None)


def portal_crm_state_waiting(portal: Portal, *, now: datetime) -> bool:
    """Whether a request now would only repeat a refusal the CRM gave within the hour."""
    return bool(portal.crm_state) and (
        portal.crm_state_at is None or now - portal.crm_state_at < PROBE_INTERVAL
    )
