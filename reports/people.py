"""Who takes part in the sales reports and how he is named: a namesake with his department."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date

from django.db.models import Q
from django.utils import timezone

from crmapp.models import Department, Employee, Portal
from crmapp.tiers import window_start
from reports.metrics import ACTIVITY_KEYS, DEAL_CREATED, DEAL_LOST, DEAL_WON, LEAD_CREATED
from reports.models import NO_EMPLOYEE, MonthFact, ReportSettings
from reports.read_once import remembered
from reports.scope import Scope

# What makes an employee a seller by default: a lead, a deal or an activity of his own.
_SELLING = [LEAD_CREATED, DEAL_CREATED, DEAL_WON, DEAL_LOST, *ACTIVITY_KEYS.values()]


def employee_labels(portal: Portal, crm_ids: Iterable[int]) -> dict[int, str]:
    """{CRM id: the name to show}: two "Анна Егорова" are told apart by their departments
    (the same in every language, so pages, exports and the CLI print the same data)."""
    labels = remembered(("labels", portal.pk), lambda: _labels(portal))
    return {crm_id: labels[crm_id] for crm_id in set(crm_ids) if crm_id in labels}


def _labels(portal: Portal) -> dict[int, str]:
    everyone = list(
        Employee.objects.for_portal(portal).values_list("crm_id", "name", "department__name")
    )
    counted = Counter(name for _crm_id, name, _department in everyone)
    return {
        crm_id: f"{name} ({department})" if counted[name] > 1 and department else name
        for crm_id, name, department in everyone
    }


def participants(portal: Portal) -> frozenset[int] | None:
    """The employees the admin chose to take part in the sales reports (his departments,
    with the ones below them, and his people); None when he chose nobody (the default)."""
    chosen = ReportSettings.of(portal)
    if not chosen.participant_departments and not chosen.participant_employees:
        return None
    departments = set(
        Department.objects.for_portal(portal)
        .filter(crm_id__in=chosen.participant_departments)
        .values_list("pk", flat=True)
    )
    while True:  # and every department below them
        below = set(
            Department.objects.for_portal(portal)
            .filter(parent__in=departments)
            .values_list("pk", flat=True)
        )
        if below <= departments:
            break
        departments |= below
    members = Employee.objects.for_portal(portal).filter(
        Q(department__in=departments) | Q(crm_id__in=chosen.participant_employees)
    )
    return frozenset(members.values_list("crm_id", flat=True))


def report_people(scope: Scope, with_numbers: set[int]) -> dict[int, str]:
    """Who gets a row in a sales report, in name order: the chosen participants (Settings),
    else every active employee who sold within the tier's window — the director and the
    marketers with no deal or activity were zero rows on every table and the TV. Anyone
    with a number in the period keeps his row unless the admin left him out."""
    employees = Employee.objects.for_portal(scope.portal)
    if scope.employees is not None:
        employees = employees.filter(crm_id__in=scope.employees)
    chosen = participants(scope.portal)
    if chosen is not None:
        listed = employees.filter(crm_id__in=chosen).filter(
            Q(active=True) | Q(crm_id__in=with_numbers)
        )
    else:
        since = window_start(scope.portal, now=timezone.now()).date().replace(day=1)
        sellers = _window_sellers(scope.portal, since)
        listed = employees.filter(Q(active=True, crm_id__in=sellers) | Q(crm_id__in=with_numbers))
    labels = employee_labels(scope.portal, listed.values_list("crm_id", flat=True))
    names = dict(sorted(labels.items(), key=lambda item: (item[1].casefold(), item[0])))
    if NO_EMPLOYEE in with_numbers and scope.employees is None:
        names[NO_EMPLOYEE] = "—"
    return names


def _window_sellers(portal: Portal, since: date) -> set[int]:
    """The employees with a selling aggregate from `since` on (about 50 ms on a 200-seller
    portal: read once per request)."""
    return remembered(
        ("sellers", portal.pk, since),
        lambda: set(
            MonthFact.objects.for_portal(portal)
            .filter(metric__in=_SELLING, month__gte=since)
            .values_list("employee_crm_id", flat=True)
            .distinct()
        ),
    )
