"""Data quality (REPORTS.md "Data quality"): the card-filling errors of the checked deals.

Checked deals are the deals in scope that are open now or were won or lost in the period.
Each rule is a condition the database evaluates, so the summary, the split by rule, the
error list (paged in SQL) and the drill-downs count the same rows by the same definition.
Read from the mirror, which every event keeps current: a deal fixed in the CRM leaves the
list as soon as its event is applied.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time
from zoneinfo import ZoneInfo

from django.db.models import Case, Count, F, IntegerField, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from crmapp.models import Deal, Employee
from integrations.registry import card_path, card_url
from reports.metrics import (
    IS_OPEN,
    closed_in,
    in_scope_pipeline,
    of_scope_employees,
    won_in,
)
from reports.models import QUALITY_RULES, ReportSettings
from reports.paging import rows_slice
from reports.people import employee_labels
from reports.scope import Scope, Viewer, scope_resolve

RULES = QUALITY_RULES
COUNTS = ("checked", "with_errors")


def enabled_rules(scope: Scope) -> list[str]:
    """The portal's switched-on rules, in the report's order."""
    return ReportSettings.of(scope.portal).quality_rules_enabled()


def rule_condition(scope: Scope, rule: str, *, now: datetime) -> Q:
    """When a checked deal fails `rule` (REPORTS.md's table)."""
    start, end = scope.span()
    opened = IS_OPEN
    if rule == "zero_amount":
        return Q(won_in((start, end)), amount=0)
    if rule == "no_client":
        return Q(company_crm_id__isnull=True, contact_crm_id__isnull=True)
    if rule == "no_source":
        return Q(source="")
    if rule == "overdue_close":
        today = datetime.combine(now.astimezone(scope.zone).date(), time.min, scope.zone)
        return opened & Q(close_date__lt=today)
    if rule == "no_next_step":
        return opened & Q(has_next_step=False)
    if rule == "inactive_owner":
        return opened & Q(responsible__active=False)
    raise ValueError(f"no data-quality rule {rule!r}")


def checked_deals(scope: Scope):
    """Deals in scope that are open now, or won or lost in the period."""
    rows = Deal.objects.for_portal(scope.portal).filter(IS_OPEN | closed_in(scope.span()))
    return in_scope_pipeline(scope, of_scope_employees(scope, rows))


# Which rules a closed deal can fail; the others need it open (zero_amount needs it won).
CLOSED_RULES = ("zero_amount", "no_client", "no_source")


def _checked_parts(scope: Scope, rules: list[str]) -> list[tuple]:
    """The checked deals as two sets with the rules each can fail, each read from the
    `deal_quality` index alone: the open deals, and those won or lost in the period (one
    OR of the two makes PostgreSQL fetch every wide deal row: 2.7 s instead of ~0.3 s on a
    1M-deal portal)."""
    rows = in_scope_pipeline(
        scope, of_scope_employees(scope, Deal.objects.for_portal(scope.portal))
    )
    return [
        (rows.filter(IS_OPEN), [rule for rule in rules if rule != "zero_amount"]),
        (
            rows.filter(closed_in(scope.span())),
            [rule for rule in rules if rule in CLOSED_RULES],
        ),
    ]


def any_error(scope: Scope, rules: list[str], *, now: datetime) -> Q:
    wanted = Q(pk__in=[])
    for rule in rules:
        wanted |= rule_condition(scope, rule, now=now)
    return wanted


def deals_failing(scope: Scope, what: str, *, now: datetime | None = None):
    """The checked deals behind one number: "checked", "with_errors" or a rule's name."""
    now = now or timezone.now()
    rows = checked_deals(scope)
    if what == "checked":
        return rows
    rules = enabled_rules(scope)
    if what == "with_errors":
        return rows.filter(any_error(scope, rules, now=now))
    if what not in rules:
        raise ValueError(f"the rule {what!r} is switched off in Settings")
    return rows.filter(rule_condition(scope, what, now=now))


def quality(scope: Scope, *, now: datetime | None = None, limit: int | None = None,
            offset: int = 0, details: bool = False) -> dict:  # fmt: skip
    """The report; `limit` and `offset` page the error list in SQL, never the counts.
    `details` adds what the page shows beyond the shape: each deal's card address (`url`,
    `path`) and its close date (said in the overdue cell's title)."""
    now = now or timezone.now()
    rules = enabled_rules(scope)
    employees = _by_employee(scope, rules, now=now)
    with_errors = sum(row["with_errors"] for row in employees)
    return {
        "report": "quality",
        "from": scope.start.isoformat(),
        "to": scope.end.isoformat(),
        "rules": rules,
        "employees": employees,
        "by_rule": _by_rule(rules, employees),
        "deals_total": with_errors,
        "deals": error_list(scope, rules, now=now, limit=limit, offset=offset, details=details),
    }


def _by_employee(scope: Scope, rules: list[str], *, now: datetime) -> list[dict]:
    """One row per responsible employee: checked deals, those with an error, their share
    and how many fail each rule. The database counts each part's deals per employee, one
    filtered count per rule (grouped by the employee alone, PostgreSQL splits a scan of the
    ~300k open deals between its workers); a fired owner's open deals all fail
    `inactive_owner`, so that rule is the employee's, not the row's."""
    people = dict(Employee.objects.for_portal(scope.portal).values_list("pk", "crm_id"))
    fired = set(
        Employee.objects.for_portal(scope.portal).filter(active=False).values_list("pk", flat=True)
    )
    counts: dict[str | None, dict] = defaultdict(lambda: dict.fromkeys([*COUNTS, *rules], 0))
    for part, applicable in _checked_parts(scope, rules):
        per_row = [rule for rule in applicable if rule != "inactive_owner"]
        failing = {rule: Count("id", filter=rule_condition(scope, rule, now=now))
                   for rule in per_row}  # fmt: skip
        if per_row:
            failing["with_errors"] = Count("id", filter=any_error(scope, per_row, now=now))
        grouped = part.values("responsible_id").annotate(deals=Count("id"), **failing).order_by()
        for row in grouped:
            owner, deals = row["responsible_id"], row["deals"]
            crm_id = people.get(owner)
            numbers = counts[None if crm_id is None else str(crm_id)]
            numbers["checked"] += deals
            for rule in per_row:
                numbers[rule] += row[rule]
            if "inactive_owner" in applicable and owner in fired:
                numbers["inactive_owner"] += deals
                numbers["with_errors"] += deals
            else:
                numbers["with_errors"] += row.get("with_errors", 0)
    names = employee_labels(scope.portal, [int(i) for i in counts if i is not None])
    rows = [
        {
            "id": crm_id,
            "name": names.get(int(crm_id), "") if crm_id else "—",
            "checked": numbers["checked"],
            "with_errors": numbers["with_errors"],
            "share": _share(numbers["with_errors"], numbers["checked"]),
        }
        | {rule: numbers[rule] for rule in rules}
        for crm_id, numbers in counts.items()
    ]
    return sorted(rows, key=lambda row: (-row["with_errors"], row["name"]))


def _rule_flags(scope: Scope, rules: list[str], *, now: datetime) -> dict:
    """{"fails_<rule>": 1 when the deal fails the rule, else 0} as database expressions."""
    return {
        f"fails_{rule}": Case(When(rule_condition(scope, rule, now=now), then=Value(1)),
                              default=Value(0), output_field=IntegerField())
        for rule in rules
    }  # fmt: skip


def _by_rule(rules: list[str], employees: list[dict]) -> list[dict]:
    """How many checked deals fail each rule, and their share of the checked."""
    checked = sum(row["checked"] for row in employees)
    return [
        {"rule": rule, "count": (count := sum(row[rule] for row in employees)),
         "share": _share(count, checked)}
        for rule in rules
    ]  # fmt: skip


def _id(crm_id: int | None) -> str | None:
    return None if crm_id is None else str(crm_id)


def _share(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 2) if whole else None


def error_list(scope: Scope, rules: list[str], *, now: datetime, limit: int | None = None,
               offset: int = 0, details: bool = False) -> list[dict]:  # fmt: skip
    """One row per failing deal, the newest first, cut in SQL: the page's ids are picked
    first (walking the deals newest first stops at the page's last failing deal), then
    only its rows are read. Ordering by the number of errors would rank every checked deal
    first: 0.5 s on a 1M-deal portal against 10 ms."""
    if limit == 0:  # the counts alone (the overview's)
        return []
    failing = _rule_flags(scope, rules, now=now)
    page = rows_slice(
        checked_deals(scope)
        .filter(any_error(scope, rules, now=now))
        .order_by("-crm_id")
        .values_list("pk", flat=True),
        limit=limit,
        offset=offset,
    )
    values = (
        Deal.objects.for_portal(scope.portal)
        .filter(pk__in=list(page))
        .annotate(**failing)
        .order_by("-crm_id")
        .values(
            "crm_id", "title", "amount", "close_date", *failing,
            responsible_crm_id=F("responsible__crm_id"),
            responsible_name=Coalesce(F("responsible__name"), Value("")),
            stage_name=Coalesce(F("stage__name"), Value("")),
        )
    )  # fmt: skip
    items = []
    for row in values:
        item = {
            "id": str(row["crm_id"]),
            "title": row["title"],
            "responsible": row["responsible_name"],
            "stage": row["stage_name"],
            "amount": round(float(row["amount"]), 2),
            "errors": [rule for rule in rules if row[f"fails_{rule}"]],
        }
        if details:
            item |= _details(scope, row)
        items.append(item)
    return items


def _details(scope: Scope, row: dict) -> dict:
    return {
        "responsible_id": _id(row["responsible_crm_id"]),
        "url": card_url(scope.portal, "deal", row["crm_id"]),
        "path": card_path(scope.portal, "deal", row["crm_id"]),
        "close_date": row["close_date"],
    }


def quality_reasons(scope: Scope, deal: dict, rules: list[str]) -> list[tuple[str, str]]:
    """[(rule, why the deal fails it, in words; "" when it passes)] for a deal of the list
    built with `details`, in the viewer's language."""
    return [(rule, _reason(scope, deal, rule) if rule in deal["errors"] else "") for rule in rules]


def _reason(scope: Scope, deal: dict, rule: str) -> str:
    if rule == "zero_amount":
        return _("Won with an amount of 0")
    if rule == "no_client":
        return _("Neither a company nor a contact is linked")
    if rule == "no_source":
        return _("The source is empty")
    if rule == "overdue_close":
        day = deal["close_date"].astimezone(scope.zone).date()
        return _("The close date %(day)s has passed") % {"day": date_format(day, "d.m.Y")}
    if rule == "no_next_step":
        return _("No planned activity")
    return _("%(name)s, the responsible employee, no longer works here") % {
        "name": deal["responsible"] or "—"
    }


def errors_to_fix(portal, employee_crm_id: int, *, now: datetime | None = None) -> int:
    """How many of a manager's deals have errors this month (the tab's default period)."""
    now = now or timezone.now()
    today = now.astimezone(ZoneInfo(portal.time_zone)).date()
    viewer = Viewer(Viewer.MANAGER, employee_crm_id)
    scope = scope_resolve(portal, viewer, start=today.replace(day=1), end=today, now=now)
    return sum(row["with_errors"] for row in _by_employee(scope, enabled_rules(scope), now=now))
