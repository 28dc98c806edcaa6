"""What a report covers: the period, the pipeline and the employees a viewer may see.

Every page, drill-down, export, API call and CLI run goes through `scope_resolve`, so the
role rules live in one place: an admin sees everyone, a department head his departments
(with their sub-departments) and himself, a manager only himself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.translation import gettext as _

from crmapp.models import Department, Employee, Portal
from crmapp.tiers import window_start
from reports.metrics import of_scope_employees


class ScopeRefused(PermissionError):
    """The viewer asked for employees, a department or a pipeline outside his reach."""


class Viewer:
    """Who is looking: the CLI and the admin see all; heads and managers less."""

    ADMIN, HEAD, MANAGER = "admin", "head", "manager"

    def __init__(self, role: str, user_crm_id: int | None = None, departments=()) -> None:
        self.role, self.user_crm_id, self.departments = role, user_crm_id, tuple(departments)

    @classmethod
    def operator(cls) -> Viewer:
        return cls(cls.ADMIN)


@dataclass(frozen=True)
class Scope:
    portal: Portal
    start: date
    end: date
    # CRM ids of the employees whose entities count; None = everyone.
    employees: frozenset[int] | None
    pipeline: int | None = None
    # What the period was clamped from, when the tier's window cut it (for the notice).
    requested_start: date | None = None
    viewer_role: str = Viewer.ADMIN
    filters: dict = field(default_factory=dict)
    # The leads' and deals' own source ids ("" = no source); None = every source.
    sources: frozenset[str] | None = None
    # (utm field, value) pairs every lead and deal must match ("" = the field is empty).
    utm: tuple[tuple[str, str], ...] = ()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.portal.time_zone)

    def span(self) -> tuple[datetime, datetime]:
        """[start 00:00, end 23:59:59.999999] in the portal's time zone."""
        return (
            datetime.combine(self.start, time.min, self.zone),
            datetime.combine(self.end, time.max, self.zone),
        )

    @property
    def clamped(self) -> bool:
        return self.requested_start is not None

    def clamp_notice(self) -> str:
        """What pages, exports, the API and the CLI say when the tier's window cut the period."""
        if not self.clamped:
            return ""
        return _(
            "Your plan keeps history from %(day)s, so the period starts then, not on "
            "%(asked)s. Upgrade your subscription to see more."
        ) % {"day": self.start.isoformat(), "asked": self.requested_start.isoformat()}


# Plans are set up to a year ahead (reports/plan_input.py); no report reaches further, and none
# spans more than the longest history window plus that year: beyond is refused, not counted.
MONTHS_AHEAD = 12
MAX_PERIOD_DAYS = 4 * 366


def report_horizon(today: date) -> date:
    """The last day a report may reach: the end of the month a year ahead of today's."""
    year, index = divmod(today.year * 12 + today.month - 1 + MONTHS_AHEAD + 1, 12)
    return date(year, index + 1, 1) - timedelta(days=1)


# How a filter names "none" (no source, an empty UTM field): a CRM's source ids are letters,
# digits and underscores (or numbers), so it can never be one.
NO_VALUE = "-"
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign")


def selection_value(token: str) -> str:
    return "" if token == NO_VALUE else token


def selection_token(value: str) -> str:
    return value or NO_VALUE


PRESETS = ("today", "week", "month", "last_month", "quarter", "last_90", "all", "custom")
# What a report shows when no period is asked for: the forgotten report counts what was
# created in its period, so a month's first days would show nothing forgotten.
DEFAULT_PERIODS = {"forgotten": "last_90"}


def default_period(report: str) -> str:
    return DEFAULT_PERIODS.get(report, "month")


def period_preset(name: str, today: date) -> tuple[date, date]:
    if name == "today":
        return today, today
    if name == "week":
        return today - timedelta(days=today.weekday()), today
    if name == "last_month":
        last = today.replace(day=1) - timedelta(days=1)
        return last.replace(day=1), last
    if name == "quarter":
        first_month = 3 * ((today.month - 1) // 3) + 1
        return today.replace(month=first_month, day=1), today
    if name == "last_90":
        return today - timedelta(days=89), today
    if name == "all":  # as far back as the tier's window reaches
        return date.min, today
    return today.replace(day=1), today  # "month", the default


def scope_resolve(
    portal: Portal,
    viewer: Viewer,
    *,
    start: date,
    end: date,
    employee: int | None = None,
    department: int | None = None,
    pipeline: int | None = None,
    sources: tuple[str, ...] | None = None,
    utm_source: str | None = None,
    utm_medium: str | None = None,
    utm_campaign: str | None = None,
    now: datetime | None = None,
) -> Scope:
    """The scope of one report request; ScopeRefused if it reaches beyond the viewer."""
    if start > end:
        raise ValueError(_("The period starts after it ends."))
    now = now or timezone.now()
    zone = ZoneInfo(portal.time_zone)
    oldest = window_start(portal, now=now).astimezone(zone).date()
    last = report_horizon(now.astimezone(zone).date())
    if start > last:
        raise ValueError(
            _("Reports reach %(day)s at the latest; this period starts after that.")
            % {"day": last.isoformat()}
        )
    requested = start if start < oldest else None
    start = max(start, oldest)
    end = max(min(end, last), start)
    if (end - start).days > MAX_PERIOD_DAYS:
        raise ValueError(
            _("A report covers at most %(days)s days; choose a shorter period.")
            % {"days": MAX_PERIOD_DAYS}
        )
    allowed = _allowed(portal, viewer)
    employees = allowed
    utm = {"utm_source": utm_source, "utm_medium": utm_medium, "utm_campaign": utm_campaign}
    if department is not None:
        if not Department.objects.for_portal(portal).filter(crm_id=department).exists():
            raise ValueError(_("There is no department %(id)s.") % {"id": department})
        in_department = _department_employees(portal, [department])
        if allowed is not None and not in_department <= allowed | {viewer.user_crm_id}:
            raise ScopeRefused("this department is not yours")
        employees = in_department if allowed is None else in_department & allowed
    if employee is not None:
        if allowed is not None and employee not in allowed:
            raise ScopeRefused("you can see only your own numbers and your department's")
        employees = frozenset({employee})
    return Scope(
        portal=portal,
        start=start,
        end=end,
        employees=employees,
        pipeline=pipeline,
        requested_start=requested,
        viewer_role=viewer.role,
        filters={"employee": employee, "department": department, "pipeline": pipeline,
                 "sources": tuple(sources) if sources else None, **utm},
        sources=frozenset(selection_value(token) for token in sources) if sources else None,
        utm=tuple((name, selection_value(v)) for name, v in utm.items() if v is not None),
    )  # fmt: skip


def _allowed(portal: Portal, viewer: Viewer) -> frozenset[int] | None:
    if viewer.role == Viewer.ADMIN:
        return None
    own = frozenset({viewer.user_crm_id})
    if viewer.role == Viewer.HEAD:
        return own | _department_employees(portal, viewer.departments)
    return own


def _department_employees(portal: Portal, department_ids) -> frozenset[int]:
    """CRM ids of the employees of the departments and all their sub-departments."""
    return frozenset(
        Employee.objects.for_portal(portal)
        .filter(department__crm_id__in=department_tree(portal, department_ids))
        .values_list("crm_id", flat=True)
    )


def department_tree(portal: Portal, department_ids) -> frozenset[int]:
    """CRM ids of the departments and all their sub-departments."""
    departments = dict(
        Department.objects.for_portal(portal).values_list("crm_id", "parent__crm_id")
    )
    wanted, grew = set(department_ids), True
    while grew:
        children = {child for child, parent in departments.items() if parent in wanted}
        grew = not children <= wanted
        wanted |= children
    return frozenset(wanted & set(departments))


@dataclass(frozen=True)
class PlanRights:
    """Whose plans a viewer may change (None = everyone's)."""

    employees: frozenset[int] | None
    departments: frozenset[int] | None

    @property
    def any(self) -> bool:
        return self.employees is None or bool(self.employees or self.departments)

    def allows(self, level: str, crm_id: int) -> bool:
        allowed = self.employees if level == "employee" else self.departments
        return allowed is None or crm_id in allowed


def plan_rights(portal: Portal, viewer: Viewer) -> PlanRights:
    """Admins change every plan, a department head those of his departments (with their
    sub-departments) and of their employees, a manager none."""
    if viewer.role == Viewer.ADMIN:
        return PlanRights(None, None)
    if viewer.role != Viewer.HEAD:
        return PlanRights(frozenset(), frozenset())
    return PlanRights(
        _department_employees(portal, viewer.departments),
        department_tree(portal, viewer.departments),
    )


def visible_departments(portal: Portal, viewer: Viewer) -> list[Department]:
    rows = Department.objects.for_portal(portal).order_by("sort", "name")
    if viewer.role == Viewer.ADMIN:
        return list(rows)
    allowed = _allowed(portal, viewer)
    return [
        d for d in rows if _department_employees(portal, [d.crm_id]) <= (allowed or frozenset())
    ]


def entities_selected(scope: Scope, rows):
    """Leads or deals (a queryset) narrowed to the scope's employees, sources and UTM, by
    their own fields (REPORTS.md "Filters added")."""
    rows = of_scope_employees(scope, rows)
    if scope.sources is not None:
        rows = rows.filter(source__in=scope.sources)
    for name, value in scope.utm:
        rows = rows.filter(**{name: value})
    return rows
