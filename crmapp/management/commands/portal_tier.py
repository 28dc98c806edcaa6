"""`manage.py portal_tier KEY --tier subscription-24 --until YYYY-MM-DD`: an operator's override."""

from __future__ import annotations

import argparse
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from crmapp.hooks import portal_history_window_grew
from crmapp.models import Portal
from crmapp.tiers import (
    WINDOW_MONTHS,
    portal_tier,
    portal_tier_override,
    window_grows,
    window_shrinks,
)


class Command(BaseCommand):
    help = (
        "Override a portal's tier (it wins over the CRM's paid state until the end of the "
        "--until day, in the portal's time zone), or --clear the override."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "key", help="the portal's key: its domain or account subdomain (manage.py portals)"
        )
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--tier", choices=list(WINDOW_MONTHS))
        group.add_argument("--clear", action="store_true", help="remove the override")
        parser.add_argument("--until", type=_date, help="last day of the override, YYYY-MM-DD")

    def handle(self, *args, key: str, tier: str | None, clear: bool, until: date | None,
               **options):  # fmt: skip
        portals = list(Portal.objects.filter(key=key))
        if len(portals) != 1:
            found = "no portal" if not portals else "several portals"
            raise CommandError(f"{found} with key {key!r} (see `manage.py portals`)")
        portal, now = portals[0], timezone.now()
        if clear and until:
            raise CommandError("--until goes with --tier, not with --clear")
        ends = None
        if until is not None:
            # Through the whole --until day of the portal.
            ends = datetime.combine(until + timedelta(days=1), time.min, ZoneInfo(portal.time_zone))
        try:
            portal_tier_override(portal, tier="" if clear else tier, until=ends, now=now)
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(self._outcome(portal, now))
        if window_grows(portal, now=now):
            portal_history_window_grew.send(sender=Portal, portal=portal)

    def _outcome(self, portal: Portal, now: datetime) -> str:
        tier = portal_tier(portal, now=now)
        line = f"{portal.key}: {tier} ({WINDOW_MONTHS[tier]} months of history)"
        if portal.tier_override_until:
            line += f", override until {portal.tier_override_until.isoformat()}"
        if window_grows(portal, now=now):
            line += "; the newly allowed history is being imported"
        elif window_shrinks(portal, now=now):
            line += "; older history is deleted at the next nightly purge"
        return line


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None
