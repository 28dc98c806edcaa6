"""What people type into a plan: months, values, metrics, pipelines and the cell they name,
each checked with a sentence saying what is wrong (PlanError).

A plan cell is one month × (employee | department) × (pipeline | all pipelines) × metric.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

from crmapp.models import Department, Employee, Pipeline, Portal
from crmapp.tiers import window_start
from reports.models import ALL_PIPELINES, UNPIPELINED_METRICS, PlanLevel, PlanMetric
from reports.scope import MONTHS_AHEAD, PlanRights

MAX_SUM_CENTS = 10**17  # a plan beyond 10^15 in money is a typo, and BIGINT must hold it
MAX_COUNT = 10**9


class PlanError(ValueError):
    """Input a person typed wrong; the message says what and how to fix it."""


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_add(month: date, months: int) -> date:
    year, index = divmod(month.year * 12 + month.month - 1 + months, 12)
    return date(year, index + 1, 1)


def plan_months_allowed(portal: Portal, *, now: datetime) -> tuple[date, date]:
    """Plans can be set from the first month of the tier's history (earlier months have no
    fact to compare with) up to a year ahead."""
    zone = ZoneInfo(portal.time_zone)
    first = month_start(window_start(portal, now=now).astimezone(zone).date())
    return first, month_add(month_start(now.astimezone(zone).date()), MONTHS_AHEAD)


def plan_month_parse(portal: Portal, text: str, *, now: datetime) -> date:
    try:
        month = date.fromisoformat(f"{text.strip()}-01")
    except ValueError as error:
        raise PlanError(
            _("The month must look like 2026-03, not %(value)r.") % {"value": text}
        ) from error
    first, last = plan_months_allowed(portal, now=now)
    if not first <= month <= last:
        raise PlanError(
            _("Plans can be set for %(first)s to %(last)s, not for %(month)s.")
            % {
                "first": first.strftime("%m.%Y"),
                "last": last.strftime("%m.%Y"),
                "month": month.strftime("%m.%Y"),
            }
        )
    return month


def plan_value_parse(metric: str, text) -> int | None:
    """The stored value (cents for a sum, a count) of what was typed; None for an empty cell."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    if isinstance(text, int | float | Decimal):
        typed = str(text)
    else:
        typed = text.strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
    try:
        number = Decimal(typed)
    except InvalidOperation as error:
        raise PlanError(
            _("A plan is a number, such as 150000 or 150000.50, not %(value)r.") % {"value": text}
        ) from error
    if not number.is_finite():
        raise PlanError(
            _("A plan is a number, such as 150000 or 150000.50, not %(value)r.") % {"value": text}
        )
    if number < 0:
        raise PlanError(_("A plan cannot be negative."))
    count = metric != PlanMetric.WON_SUM
    if number > (MAX_COUNT if count else Decimal(MAX_SUM_CENTS) / 100):
        raise PlanError(_("This plan is too large."))
    if count:
        if number != number.to_integral_value():
            raise PlanError(_("A count is a whole number, not %(value)s.") % {"value": typed})
        return int(number)
    cents = number * 100
    if cents != cents.to_integral_value():
        raise PlanError(_("A sum has at most two decimals, not %(value)s.") % {"value": typed})
    return int(cents)


def plan_value_show(metric: str, value: int | None) -> float | int | None:
    """A stored value as people read it: money with two decimals, a count as is."""
    if value is None:
        return None
    if metric == PlanMetric.WON_SUM:
        return round(value / 100, 2)
    return value if isinstance(value, int) else round(value, 2)  # a day's share of a count


def metric_parse(text: str) -> str:
    if text not in PlanMetric.values:
        raise PlanError(_("Unknown plan metric %(value)r.") % {"value": text})
    return text


def pipeline_parse(portal: Portal, text: str | None) -> int:
    """ALL_PIPELINES for empty, else the CRM id of one of the portal's pipelines."""
    if text in (None, "", "all"):
        return ALL_PIPELINES
    try:
        pipeline = int(str(text).strip())
    except ValueError as error:
        raise PlanError(_("Unknown pipeline %(value)r.") % {"value": text}) from error
    if not Pipeline.objects.for_portal(portal).filter(crm_id=pipeline).exists():
        raise PlanError(_("Unknown pipeline %(value)r.") % {"value": text})
    return pipeline


@dataclass(frozen=True)
class Cell:
    """One plan cell, checked: it exists in the portal and the editor may change it."""

    month: date
    level: str
    target: int
    pipeline: int
    metric: str


def plan_cell_check(
    portal: Portal,
    rights: PlanRights,
    *,
    month: date,
    level: str,
    target,
    pipeline: int,
    metric: str,
) -> Cell:
    if level not in PlanLevel.values:
        raise PlanError(
            _("A plan belongs to an employee or a department, not %(value)r.") % {"value": level}
        )
    try:
        target = int(target)
    except (TypeError, ValueError) as error:
        raise PlanError(
            _("Unknown employee or department %(value)r.") % {"value": target}
        ) from error
    model = Employee if level == PlanLevel.EMPLOYEE else Department
    if not model.objects.for_portal(portal).filter(crm_id=target).exists():
        raise PlanError(_("Unknown employee or department %(value)r.") % {"value": target})
    if not rights.allows(level, target):
        raise PermissionError(target)
    metric = metric_parse(metric)
    if metric in UNPIPELINED_METRICS and pipeline != ALL_PIPELINES:
        raise PlanError(_("Calls and meetings belong to no pipeline: plan them for all pipelines."))
    return Cell(month, level, target, pipeline, metric)
