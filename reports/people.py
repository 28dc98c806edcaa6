"""Who takes part in the sales reports and how he is named: a namesake with his department."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date

from django.db.models import Q
from django.utils import timezone

from crmapp.models import Department, Employee, Portal
from crmapp.tiers import window_start
from reports.metrics import ACTIVITY_KEYS, DEAL_CREATED, DEAL_LOST, DEAL_WON, LEAD_CREATED
from reports.models import NO_EMPLOYEE, MonthFact, ReportSettings
from reports.scope import Scope

# What makes an employee a seller by default: a lead, a deal or an activity of his own.
_SELLING = [LEAD_CREATED, DEAL_CREATED, DEAL_WON, DEAL_LOST, *ACTIVITY_KEYS.values()]
# The window's sellers already read in this request, by (portal, window start).
_sellers_read: ContextVar[dict | None] = ContextVar("sellers_read", default=None)


def employee_labels(portal: Portal, crm_ids: Iterable[int]) -> dict[int, str]:
    """{CRM id: the name to show}: two "Анна Егорова" are told apart by their departments
    (the same in every language, so pages, exports and the CLI print the same data)."""
    wanted = set(crm_ids)
    everyone = Employee.objects.for_portal(portal)
    repeated = {
        name
        for name, count in Counter(everyone.values_list("name", flat=True)).items()
        if count > 1
    }
    labels = {}
    for crm_id, name, department in everyone.filter(crm_id__in=wanted).values_list(
        "crm_id", "name", "department__name"
    ):
        labels[crm_id] = f"{name} ({department})" if name in repeated and department else name
    return labels


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


@contextmanager
def sellers_read_once() -> Iterator[None]:
    """Within it, each portal's sellers are read once: a page that composes several reports
    (the overview four, the efficiency table and its dynamics two) names its people from
    one scan of the window's monthly aggregates (about 50 ms on a 200-seller portal)."""
    token = _sellers_read.set({})
    try:
        yield
    finally:
        _sellers_read.reset(token)


def _window_sellers(portal: Portal, since: date) -> set[int]:
    """The employees with a selling aggregate from `since` on."""
    read = _sellers_read.get()
    if read is not None and (portal.pk, since) in read:
        return read[(portal.pk, since)]
    sellers = set(
        MonthFact.objects.for_portal(portal)
        .filter(metric__in=_SELLING, month__gte=since)
        .values_list("employee_crm_id", flat=True)
        .distinct()
    )
    if read is not None:
        read[(portal.pk, since)] = sellers
    return sellers
