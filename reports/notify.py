"""Reminding employees of their forgotten deals, in the CRM's own notification centre."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime

from django.utils import timezone, translation
from django.utils.translation import gettext as _

from integrations.registry import adapter_for
from reports.forgotten import IDLE, NO_NEXT_STEP, forgotten
from reports.scope import Scope

log = logging.getLogger(__name__)
MAX_LINES = 30  # a notification is read on a phone too


def forgotten_notify(scope: Scope, *, now: datetime | None = None) -> dict[int, int]:
    """Send each responsible employee the list of his forgotten deals (with links to their
    cards); returns {employee CRM id: deals listed}."""
    now = now or timezone.now()
    report = forgotten(scope, now=now)
    by_person: dict[int, list[dict]] = defaultdict(list)
    for deal in report["deals"]:
        if deal["responsible_id"] is not None:
            by_person[int(deal["responsible_id"])].append(deal)
    adapter = adapter_for(scope.portal)
    with translation.override(scope.portal.language):
        for person, deals in by_person.items():
            adapter.notify(person, _message(deals), tag=f"forgotten-deals-{now.date()}")
    log.info("forgotten-deal reminders for %s: %d people", scope.portal, len(by_person))
    return {person: len(deals) for person, deals in by_person.items()}


def _message(deals: list[dict]) -> str:
    lines = [_("Deals that need your attention: %(count)d") % {"count": len(deals)}]
    for deal in deals[:MAX_LINES]:
        reasons = []
        if IDLE in deal["reasons"]:
            reasons.append(_("idle %(days)d days") % {"days": deal["idle_days"]})
        if NO_NEXT_STEP in deal["reasons"]:
            reasons.append(_("no next step"))
        title = deal["title"].replace("[", "(").replace("]", ")") or f"#{deal['id']}"
        lines.append(f"[URL={deal['url']}]{title}[/URL] — {', '.join(reasons)}")
    if len(deals) > MAX_LINES:
        lines.append(
            _("…and %(more)d more in the Sales reports app.") % {"more": len(deals) - MAX_LINES}
        )
    return "\n".join(lines)
