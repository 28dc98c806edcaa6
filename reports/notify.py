"""Reminding employees of their forgotten deals, in the CRM's own notification centre, and,
when an admin switched it on, of their deals' data-quality errors in a second section."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import replace
from datetime import datetime

from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crmapp.models import Department, Employee, Portal
from integrations.records import NoticeLine
from integrations.registry import adapter_for
from reports.forgotten import IDLE, NO_NEXT_STEP, forgotten
from reports.labels import QUALITY_LABELS
from reports.models import ReportSettings
from reports.quality import quality
from reports.scope import Scope

log = logging.getLogger(__name__)
MAX_LINES = 30  # a notification is read on a phone too


def forgotten_notify(scope: Scope, *, now: datetime | None = None) -> dict[int, int]:
    """Send each responsible employee the list of his forgotten deals (with links to their
    cards) and, when Settings say so, his deals' data-quality errors; a fired employee's
    deals go to the head of his department (the nearest active one up the tree), said so in
    the message. Returns {recipient CRM id: deals listed}."""
    now = now or timezone.now()
    sections = {FORGOTTEN: _by_owner(forgotten(scope, now=now)["deals"])}
    if ReportSettings.of(scope.portal).quality_in_notify:
        sections[QUALITY] = _by_owner(
            quality(_this_month(scope, now), now=now, details=True)["deals"]
        )
    owners = {owner for by_owner in sections.values() for owner in by_owner}
    recipients = notify_recipients(scope.portal, owners)
    by_recipient: dict[int, list[tuple[str, Employee | None, list[dict]]]] = defaultdict(list)
    for section, by_owner in sections.items():
        for owner, deals in sorted(by_owner.items()):
            recipient, fired = recipients.get(owner, (None, None))
            if recipient is None:
                log.warning("%s deals of %s on %s have nobody to remind", section, owner,
                            scope.portal)  # fmt: skip
                continue
            by_recipient[recipient].append((section, fired, deals))
    adapter = adapter_for(scope.portal)
    with translation.override(scope.portal.language):
        for recipient, parts in by_recipient.items():
            lines: list[NoticeLine] = []
            for section, fired, deals in parts:
                # A blank line between the sections.
                lines += ([NoticeLine("")] if lines else []) + MESSAGES[section](deals, fired=fired)
            adapter.notify(recipient, lines, tag=f"forgotten-deals-{now.date()}")
    log.info("deal reminders for %s: %d people", scope.portal, len(by_recipient))
    return {
        recipient: len({deal["id"] for _section, _fired, deals in parts for deal in deals})
        for recipient, parts in by_recipient.items()
    }


FORGOTTEN, QUALITY = "forgotten", "quality"


def _by_owner(deals: list[dict]) -> dict[int, list[dict]]:
    by_owner: dict[int, list[dict]] = defaultdict(list)
    for deal in deals:
        if deal["responsible_id"] is not None:
            by_owner[int(deal["responsible_id"])].append(deal)
    return by_owner


def _this_month(scope: Scope, now: datetime) -> Scope:
    """The errors a reminder lists: of the deals open now and those closed this month (a
    reminder of every deal closed over the years without a source would be noise)."""
    today = now.astimezone(scope.zone).date()
    return replace(scope, start=max(scope.start, today.replace(day=1)), end=today)


def notify_recipients(
    portal: Portal, owners: set[int]
) -> dict[int, tuple[int | None, Employee | None]]:
    """{owner: (who is reminded, the fired owner or None)}: an active owner himself, a fired
    one the nearest active head up his department tree (None when there is none)."""
    people = {
        employee.crm_id: employee
        for employee in Employee.objects.for_portal(portal)
        .filter(crm_id__in=owners)
        .select_related("department")
    }
    departments = {
        department.pk: department
        for department in Department.objects.for_portal(portal).select_related("head")
    }
    found: dict[int, tuple[int | None, Employee | None]] = {}
    for owner in owners:
        employee = people.get(owner)
        if employee is None or employee.active:
            found[owner] = (owner, None)
            continue
        head, department, seen = None, departments.get(employee.department_id), set()
        while department is not None and department.pk not in seen and head is None:
            seen.add(department.pk)
            candidate = department.head
            if candidate and candidate.active and candidate.crm_id != owner:
                head = candidate.crm_id
            department = departments.get(department.parent_id)
        found[owner] = (head, employee)
    return found


def _quality_message(deals: list[dict], *, fired: Employee | None = None) -> list[NoticeLine]:
    if fired is None:
        heading = _("Deals with errors in their cards: %(count)d") % {"count": len(deals)}
    else:
        heading = _(
            "Deals of %(name)s, who no longer works here, with errors in their cards: %(count)d"
        ) % {"name": fired.name, "count": len(deals)}
    lines = [NoticeLine(heading)]
    for deal in deals[:MAX_LINES]:
        errors = ", ".join(str(QUALITY_LABELS[rule]).lower() for rule in deal["errors"])
        lines.append(_card_line(deal, errors))
    if len(deals) > MAX_LINES:
        more = _("…and %(more)d more in the Sales reports app.") % {"more": len(deals) - MAX_LINES}
        lines.append(NoticeLine(more))
    return lines


def _card_line(deal: dict, text: str) -> NoticeLine:
    return NoticeLine(text, link_url=deal["url"], link_text=deal["title"] or f"#{deal['id']}")


def _message(deals: list[dict], *, fired: Employee | None = None) -> list[NoticeLine]:
    if fired is None:
        heading = _("Deals that need your attention: %(count)d") % {"count": len(deals)}
    else:
        heading = _(
            "Deals of %(name)s, who no longer works here, that need attention: %(count)d"
        ) % {"name": fired.name, "count": len(deals)}
    lines = [NoticeLine(heading)]
    for deal in deals[:MAX_LINES]:
        reasons = []
        if IDLE in deal["reasons"]:
            reasons.append(_("idle %(days)d days") % {"days": deal["idle_days"]})
        if NO_NEXT_STEP in deal["reasons"]:
            reasons.append(_("no next step"))
        lines.append(_card_line(deal, ", ".join(reasons)))
    if len(deals) > MAX_LINES:
        more = _("…and %(more)d more in the Sales reports app.") % {"more": len(deals) - MAX_LINES}
        lines.append(NoticeLine(more))
    return lines


MESSAGES = {FORGOTTEN: _message, QUALITY: _quality_message}
