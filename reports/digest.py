"""The daily digest: at the time an admin set, each employee gets his forgotten deals."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.db import transaction

from crmapp.models import Portal
from reports.models import ReportSettings
from reports.notify import forgotten_notify
from reports.scope import Viewer, scope_resolve


def portals_digest_due(*, now: datetime) -> list[int]:
    """Active portals whose digest time has come today (their time) and was not sent yet."""
    due = []
    wanted = ReportSettings.all_portals.filter(
        digest_at__isnull=False, portal__status=Portal.Status.ACTIVE
    ).select_related("portal")
    for settings in wanted:
        local = now.astimezone(ZoneInfo(settings.portal.time_zone))
        if local.time() >= settings.digest_at and settings.digest_sent_on != local.date():
            due.append(settings.portal_id)
    return due


def portal_digest_send(portal: Portal, *, now: datetime) -> dict[int, int] | None:
    """Send today's digest once (the settings row is locked and stamped in one transaction;
    a second worker finds it sent). Covers every open deal the tier's window holds."""
    today = now.astimezone(ZoneInfo(portal.time_zone)).date()
    with transaction.atomic():
        settings = ReportSettings.objects.for_portal(portal).select_for_update().get()
        if settings.digest_at is None or settings.digest_sent_on == today:
            return None
        scope = scope_resolve(portal, Viewer.operator(), start=date.min, end=today, now=now)
        sent = forgotten_notify(scope, now=now)
        settings.digest_sent_on = today
        settings.save(update_fields=["digest_sent_on"])
    return sent
