"""A report request's filters, read from its query string into a `Scope`.

Pages and the API read the same parameters: period (today|week|month|last_month|quarter|
custom, with from/to), pipeline, department and employee (the CRM's ids).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.translation import gettext as _

from crmapp.models import Portal
from frontend.session import AppSession
from reports.scope import (
    PRESETS,
    UTM_FIELDS,
    Scope,
    ScopeRefused,
    Viewer,
    default_period,
    period_preset,
    scope_resolve,
)

# CRM ids are stored as 64-bit integers; anything larger names nothing and would overflow.
MAX_CRM_ID = 2**53 - 1
FILTERS = ("period", "from", "to", "pipeline", "department", "employee", *UTM_FIELDS)
SOURCE = "source"  # repeated: several sources at once


class BadFilter(ValueError):
    """A filter a person typed wrong; the message says which and how."""


def viewer_of(session: AppSession) -> Viewer:
    return Viewer(session.role, session.user_crm_id, session.department_ids)


def scope_from_query(query, portal: Portal, viewer: Viewer, *, report: str = "") -> Scope:
    """BadFilter for malformed filters, ScopeRefused for someone else's data; with no
    period asked for, the report's default one."""
    today = timezone.now().astimezone(ZoneInfo(portal.time_zone)).date()
    preset = query.get("period") or default_period(report)
    if preset not in PRESETS:
        raise BadFilter(_("Unknown period %(value)r") % {"value": preset})
    start, end = period_preset(preset, today)
    if preset == "custom":
        start, end = _date(query, "from") or start, _date(query, "to") or end
    try:
        scope = scope_resolve(
            portal,
            viewer,
            start=start,
            end=end,
            employee=_int(query, "employee"),
            department=_int(query, "department"),
            pipeline=_int(query, "pipeline"),
            sources=_sources(query),
            **{name: (query.get(name) or "").strip() or None for name in UTM_FIELDS},
        )
    except ScopeRefused:
        raise
    except ValueError as error:  # an unknown department, a period that ends before it starts
        raise BadFilter(str(error)) from error
    # "All time" means the window, so reaching its start is no clamp to warn about.
    return replace(scope, requested_start=None) if preset == "all" else scope


def _sources(query) -> tuple[str, ...] | None:
    values = query.getlist(SOURCE) if hasattr(query, "getlist") else [query.get(SOURCE)]
    tokens = sorted({value.strip() for value in values if value and value.strip()})
    return tuple(tokens) or None


def _int(query, name: str) -> int | None:
    value = (query.get(name) or "").strip()
    if not value:
        return None
    try:
        number = int(value)
    except ValueError as error:
        message = _("%(name)s must be a number, not %(value)r")
        raise BadFilter(message % {"name": name, "value": value[:40]}) from error
    if not 0 <= number <= MAX_CRM_ID:
        message = _("%(name)s must be a CRM id between 0 and %(max)s")
        raise BadFilter(message % {"name": name, "max": MAX_CRM_ID})
    return number


def _date(query, name: str) -> date | None:
    value = (query.get(name) or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        message = _("%(name)s must be a date (YYYY-MM-DD), not %(value)r")
        raise BadFilter(message % {"name": name, "value": value[:40]}) from error
