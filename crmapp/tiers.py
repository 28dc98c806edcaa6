"""Data-retention tiers: how much history a portal may see (DESIGN.md "Tiers").

Three inputs decide the tier in force: an operator's override (until its date), the paid state
the CRM reports (a subscription until `tier_until`), and the 14-day trial counted from the
account's first install. Whatever is left is basic.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction

from crmapp.models import InstallRecord, Portal

TRIAL_DAYS = 14
WINDOW_MONTHS = {
    Portal.Tier.TRIAL: 24,
    Portal.Tier.BASIC: 3,
    Portal.Tier.SUBSCRIPTION_12: 12,
    Portal.Tier.SUBSCRIPTION_24: 24,
}
SUBSCRIPTIONS = (Portal.Tier.SUBSCRIPTION_12, Portal.Tier.SUBSCRIPTION_24)


def _override_active(portal: Portal, now: datetime) -> bool:
    until = portal.tier_override_until
    return bool(portal.tier_override) and (until is None or now < until)


def portal_tier(portal: Portal, *, now: datetime) -> str:
    """The tier in force now: an operator's override, else a paid subscription that has not
    lapsed, else the trial for 14 days after the first install, else basic."""
    if _override_active(portal, now):
        return portal.tier_override
    if portal.tier in SUBSCRIPTIONS and (portal.tier_until is None or now < portal.tier_until):
        return portal.tier
    if now < trial_ends_at(portal):
        return Portal.Tier.TRIAL
    return Portal.Tier.BASIC


def trial_ends_at(portal: Portal) -> datetime:
    return portal.trial_started_at + timedelta(days=TRIAL_DAYS)


def tier_ends_at(portal: Portal, *, now: datetime) -> datetime | None:
    """When the tier in force ends (None: not known to end; basic never does)."""
    tier = portal_tier(portal, now=now)
    if _override_active(portal, now):
        return portal.tier_override_until
    if tier in SUBSCRIPTIONS:
        return portal.tier_until
    return trial_ends_at(portal) if tier == Portal.Tier.TRIAL else None


def trial_days_left(portal: Portal, *, now: datetime) -> int:
    if portal_tier(portal, now=now) != Portal.Tier.TRIAL:
        return 0
    left = (tier_ends_at(portal, now=now) or trial_ends_at(portal)) - now
    return max(0, left.days + (1 if left.seconds or left.microseconds else 0))


def months_back(moment: datetime, months: int) -> datetime:
    """The same day and time `months` months earlier (clamped to the month's last day)."""
    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    month += 1
    next_month = datetime(year + month // 12, month % 12 + 1, 1)
    days_in_month = (next_month - datetime(year, month, 1)).days
    return moment.replace(year=year, month=month, day=min(moment.day, days_in_month))


def window_start(portal: Portal, *, now: datetime) -> datetime:
    """The oldest moment whose data this portal's tier keeps."""
    return months_back(now, WINDOW_MONTHS[portal_tier(portal, now=now)])


def window_first_day_start(portal: Portal, *, now: datetime) -> datetime:
    """Midnight (portal time) of the first day the reports may show: the purge's cut-off, so a
    kept day is always whole."""
    zone = ZoneInfo(portal.time_zone)
    first_day = window_start(portal, now=now).astimezone(zone).date()
    return datetime.combine(first_day, time.min, zone)


def window_shrinks(portal: Portal, *, now: datetime) -> bool:
    """The mirror holds more months than the tier keeps: the next nightly purge deletes them
    (the app warns meanwhile)."""
    return portal.history_months > WINDOW_MONTHS[portal_tier(portal, now=now)]


def window_grows(portal: Portal, *, now: datetime) -> bool:
    """The tier keeps more months than the imported mirror holds: a backfill is due."""
    imported = portal.import_phase == Portal.ImportPhase.DONE
    return imported and WINDOW_MONTHS[portal_tier(portal, now=now)] > portal.history_months


def trial_start_for(kind: str, member_id: str, *, now: datetime) -> datetime:
    """When this CRM account first installed the app (recorded now if this is the first)."""
    record, _ = InstallRecord.objects.get_or_create(
        kind=kind, member_id=member_id, defaults={"first_installed_at": now}
    )
    return record.first_installed_at


@transaction.atomic
def portal_paid_state_apply(
    portal: Portal, *, tier: str | None, days_left: int | None, now: datetime
) -> None:
    """Store the paid state the CRM reports: a subscription tier for `days_left` more days
    (None: no end given), or None when unpaid (basic; the trial, counted from the first
    install, still applies)."""
    if tier is not None and tier not in SUBSCRIPTIONS:
        raise ValueError(f"{tier!r} is not a subscription tier")
    until = now + timedelta(days=days_left) if tier and days_left is not None else None
    tier = tier or Portal.Tier.BASIC
    Portal.objects.filter(pk=portal.pk).update(tier=tier, tier_until=until)
    portal.tier, portal.tier_until = tier, until


@transaction.atomic
def portal_tier_override(
    portal: Portal, *, tier: str, until: datetime | None, now: datetime
) -> None:
    """An operator's tier for this portal, in force until `until` (None: until removed);
    tier "" removes the override."""
    if tier and tier not in WINDOW_MONTHS:
        raise ValueError(f"unknown tier {tier!r}; one of {', '.join(WINDOW_MONTHS)}")
    if tier and until is not None and until <= now:
        raise ValueError("the override would end before it starts")
    portal.tier_override, portal.tier_override_until = tier, (until if tier else None)
    Portal.objects.filter(pk=portal.pk).update(
        tier_override=portal.tier_override, tier_override_until=portal.tier_override_until
    )
