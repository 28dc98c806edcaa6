"""Data-retention tiers: how much history a portal may see (DESIGN.md "Tiers")."""

from __future__ import annotations

from datetime import datetime, timedelta

from crmapp.models import Portal

TRIAL_DAYS = 14
WINDOW_MONTHS = {
    Portal.Tier.TRIAL: 24,
    Portal.Tier.BASIC: 3,
    Portal.Tier.SUBSCRIPTION_12: 12,
    Portal.Tier.SUBSCRIPTION_24: 24,
}


def portal_tier(portal: Portal, *, now: datetime) -> str:
    """The tier in force now: a trial past its 14 days and a lapsed subscription become basic."""
    if portal.tier == Portal.Tier.TRIAL:
        ended = now >= portal.trial_started_at + timedelta(days=TRIAL_DAYS)
        return Portal.Tier.BASIC if ended else Portal.Tier.TRIAL
    if portal.tier != Portal.Tier.BASIC and portal.tier_until and now >= portal.tier_until:
        return Portal.Tier.BASIC
    return portal.tier


def trial_days_left(portal: Portal, *, now: datetime) -> int:
    if portal_tier(portal, now=now) != Portal.Tier.TRIAL:
        return 0
    left = portal.trial_started_at + timedelta(days=TRIAL_DAYS) - now
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
