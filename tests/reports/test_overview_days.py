"""The overview's day plan and pace on the first, a middle and the last working day of a
month, the clock anchored on each (last month, whose history is complete)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from crmapp.models import Deal
from reports.overview import overview
from reports.plan_edit import plan_set
from reports.plan_input import Cell, month_add
from reports.plan_today import PACE_FROM_WORKING_DAY, working_days
from reports.scope import Viewer


@pytest.mark.django_db
def test_day_plan_and_pace_on_the_first_a_middle_and_the_last_working_day(installed):
    portal = installed
    zone = ZoneInfo(portal.time_zone)
    month = month_add(timezone.now().astimezone(zone).date().replace(day=1), -1)
    days = working_days(month)
    first = datetime.combine(month, time.min, zone)
    last = datetime.combine(month_add(month, 1) - timedelta(days=1), time.max, zone)
    won = Counter(Deal.objects.for_portal(portal).filter(semantic="won", closed_at__range=(
        first, last)).values_list("responsible__crm_id", flat=True))  # fmt: skip
    seller = max((crm_id for crm_id in won if crm_id), key=won.get)
    plan = 3 * len(days)
    for metric, value in (("won_count", plan), ("calls", 2 * len(days))):
        cell = Cell(month, "employee", seller, -1, metric)
        plan_set(portal, cell=cell, value=value, by=1, now=timezone.now())

    for elapsed in (1, len(days) // 2, len(days)):
        day = days[elapsed - 1]
        now = datetime.combine(day, time(15, 30), zone)
        data = overview(portal, Viewer(Viewer.MANAGER, seller), now=now)
        assert data["today"] == day and data["elapsed_working_days"] == elapsed
        figures = data["plan"]["won_count"]
        assert figures["day_plan"] == 3
        assert dict(data["day"])["calls"]["day_plan"] == 2
        fact = (
            Deal.objects.for_portal(portal)
            .filter(semantic="won", responsible__crm_id=seller,
                    closed_at__range=(first, datetime.combine(day, time.max, zone)))
            .count()
        )  # fmt: skip
        today = (
            Deal.objects.for_portal(portal)
            .filter(semantic="won", responsible__crm_id=seller,
                    closed_at__range=(datetime.combine(day, time.min, zone),
                                      datetime.combine(day, time.max, zone)))
            .count()
        )  # fmt: skip
        assert (figures["fact"], figures["fact_today"]) == (fact, today)
        assert data["won"]["today"]["count"] == today
        expected = (
            round(100 * fact / (3 * elapsed), 2) if elapsed >= PACE_FROM_WORKING_DAY else None
        )
        assert figures["pace"] == expected, elapsed
