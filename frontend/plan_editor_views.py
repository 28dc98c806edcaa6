"""The plan editor inside the CRM: a grid of months × employees (grouped by department) for
one pipeline (or all) and one metric, saved cell by cell; copy, fill and the suggested
activity plans.

Reads accept the session in the address (downloads); every change needs the X-App-Session
header, which a cross-site form cannot send.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from crmapp.models import Pipeline
from crmapp.selectors import portal_summary
from frontend.plan_access import plan_editor_required, text_answer
from frontend.plan_bonus_views import bonus_context
from frontend.rendering import app_render
from frontend.session import Role, app_session_required, download_token_issue
from frontend.tv_link_views import tv_context
from reports.models import ALL_PIPELINES, PlanLevel, PlanMetric
from reports.plan_edit import plan_month_copy, plan_row_fill, plan_set
from reports.plan_grid import plan_grid
from reports.plan_input import (
    PlanError,
    metric_parse,
    month_add,
    pipeline_parse,
    plan_cell_check,
    plan_month_parse,
    plan_months_allowed,
    plan_value_parse,
)
from reports.plan_labels import plan_metric_labels
from reports.plan_suggest import plan_suggest, plan_suggest_save
from reports.scope import PlanRights

TEMPLATE = "frontend/plan_editor.html"


def _today(request: HttpRequest) -> date:
    return timezone.now().astimezone(ZoneInfo(request.portal.time_zone)).date()


def grid_selection(request: HttpRequest, data) -> dict:
    """Year, pipeline and metric of the grid, from the query string or the form."""
    year_text = (data.get("year") or "").strip()
    try:
        year = int(year_text) if year_text else _today(request).year
    except ValueError as error:
        raise PlanError(
            _("The year must be a number, not %(value)r.") % {"value": year_text}
        ) from error
    if not 2000 <= year <= 2100:
        raise PlanError(_("The year must be a number, not %(value)r.") % {"value": year_text})
    return {
        "year": year,
        "pipeline": pipeline_parse(request.portal, data.get("pipeline")),
        "metric": metric_parse(data.get("metric") or PlanMetric.WON_SUM),
    }


def grid_of(request: HttpRequest, selection: dict, metric: str | None = None) -> dict:
    rights: PlanRights = request.plan_rights
    months = [date(selection["year"], month, 1) for month in range(1, 13)]
    return plan_grid(
        request.portal,
        months=months,
        pipeline=selection["pipeline"],
        metric=metric or selection["metric"],
        rights=rights,
        visible=rights.employees,
        now=timezone.now(),
    )


def _context(request: HttpRequest, selection: dict, **extra) -> dict:
    portal = request.portal
    labels = plan_metric_labels(portal)
    context = {
        "portal": portal,
        "report": "plan",
        "summary": portal_summary(portal, now=timezone.now()),
        "session": request.app_session,
        "session_token": request.app_session_token,
        "pipelines": Pipeline.objects.for_portal(portal).order_by("sort", "name"),
        "selection": selection,
        "pipeline_value": "" if selection["pipeline"] == ALL_PIPELINES else selection["pipeline"],
        "metrics": [
            (PlanMetric.WON_SUM, _("Won, sum")),
            (PlanMetric.WON_COUNT, _("Won, count")),
            *((metric, labels[metric]) for metric in PlanMetric.values[2:]),
        ],
        "years": range(_today(request).year - 2, _today(request).year + 2),
        "grid": grid_of(request, selection),
        "query": f"year={selection['year']}&metric={selection['metric']}"
        f"&pipeline={'' if selection['pipeline'] == ALL_PIPELINES else selection['pipeline']}",
        "export_token": download_token_issue(request.app_session, reverse("plan-export")),
    }
    if request.app_session.role == Role.ADMIN:
        context |= bonus_context(request) | tv_context(request)
    return context | extra


@require_GET
@app_session_required
@plan_editor_required
def plan_editor(request: HttpRequest) -> HttpResponse:
    selection = grid_selection(request, request.GET)
    template = TEMPLATE
    if request.htmx and request.htmx.target == "plan-grid":
        template += "#grid"
    return app_render(request, request.portal, template, _context(request, selection))


def _posted_cell(request: HttpRequest, data, selection: dict, month: date):
    """The plan cell a posted row names for `month`, checked against the editor's rights."""
    return plan_cell_check(
        request.portal,
        request.plan_rights,
        month=month,
        level=data.get("level", ""),
        target=data.get("id"),
        pipeline=selection["pipeline"],
        metric=selection["metric"],
    )


@csrf_exempt  # authenticated by the X-App-Session header, which no other site can send
@require_POST
@app_session_required
@plan_editor_required
def plan_cell_save(request: HttpRequest) -> HttpResponse:
    """Save one cell (on blur); answer the cell and, out of band, the department defaults
    that depend on it. A bad value answers 400 with the cell showing why, and saves nothing."""
    portal, data, now = request.portal, request.POST, timezone.now()
    selection = grid_selection(request, data)
    month = plan_month_parse(portal, data.get("month", ""), now=now)
    cell = _posted_cell(request, data, selection, month)
    error, status = "", 200
    try:
        value = plan_value_parse(cell.metric, data.get("value", ""))
    except PlanError as problem:
        error, status = str(problem), 400
    else:
        plan_set(portal, cell=cell, value=value, by=request.app_session.user_crm_id, now=now)
    grid = plan_grid(
        portal,
        months=[month],
        pipeline=cell.pipeline,
        metric=cell.metric,
        rights=request.plan_rights,
        visible=request.plan_rights.employees,
        now=now,
    )
    target = str(cell.target)
    rows = [(PlanLevel.DEPARTMENT, group) for group in grid["departments"] if group["cells"]]
    rows += [(PlanLevel.EMPLOYEE, e) for group in grid["departments"] for e in group["employees"]]
    saved = next(
        (row["cells"][0] for level, row in rows if level == cell.level and row["id"] == target),
        None,
    )
    if saved is None:  # an inactive employee without a plan has no row to show
        return text_answer(status or 200, error or _("Saved."))
    if error:
        saved = saved | {"typed": data.get("value", ""), "error": error}
    context = {
        "cell": saved,
        "level": cell.level,
        "target": target,
        "pipeline_value": "" if cell.pipeline == ALL_PIPELINES else cell.pipeline,
        "selection": selection,
        # The department defaults that may have moved (not the cell itself).
        "departments": [
            group
            for level, group in rows
            if level == PlanLevel.DEPARTMENT and (cell.level, target) != (level, group["id"])
        ],
    }
    return app_render(request, portal, "frontend/plan_cell.html", context, status=status)


@csrf_exempt
@require_POST
@app_session_required
@plan_editor_required
def plan_copy(request: HttpRequest) -> HttpResponse:
    portal, now = request.portal, timezone.now()
    selection = grid_selection(request, request.POST)
    month = plan_month_parse(portal, request.POST.get("month", ""), now=now)
    changed = plan_month_copy(
        portal,
        month=month,
        pipeline=selection["pipeline"],
        rights=request.plan_rights,
        by=request.app_session.user_crm_id,
        now=now,
    )
    message = _("%(count)d plans copied from %(month)s.") % {
        "count": changed,
        "month": month_add(month, -1).strftime("%m.%Y"),
    }
    return grid_response(request, selection, message)


@csrf_exempt
@require_POST
@app_session_required
@plan_editor_required
def plan_fill(request: HttpRequest) -> HttpResponse:
    """The empty months of the year's row, from this month on, get the row's first plan;
    past and typed months stay as they are."""
    portal, data, now = request.portal, request.POST, timezone.now()
    selection = grid_selection(request, data)
    first, last = plan_months_allowed(portal, now=now)
    this_month = timezone.localtime(now, ZoneInfo(portal.time_zone)).date().replace(day=1)
    months = [date(selection["year"], month, 1) for month in range(1, 13)]
    cells = [
        _posted_cell(request, data, selection, month) for month in months if first <= month <= last
    ]
    filled = plan_row_fill(
        portal, cells=cells, by=request.app_session.user_crm_id, now=now, since=this_month
    )
    message = ngettext(
        "%(count)d empty month from this month on got the row's first plan; typed and "
        "past months are kept.",
        "%(count)d empty months from this month on got the row's first plan; typed and "
        "past months are kept.",
        filled,
    ) % {"count": filled}
    return grid_response(request, selection, message)


@require_GET
@app_session_required
@plan_editor_required
def plan_suggestions(request: HttpRequest) -> HttpResponse:
    """The activity plans the month's won-count plans call for, to edit before saving."""
    portal, now = request.portal, timezone.now()
    selection = grid_selection(request, request.GET)
    month = plan_month_parse(portal, request.GET.get("month", ""), now=now)
    suggestion = plan_suggest(portal, month=month, rights=request.plan_rights, now=now)
    context = {
        "suggestion": suggestion,
        "selection": selection,
        "pipeline_value": "" if selection["pipeline"] == ALL_PIPELINES else selection["pipeline"],
        "suggested_labels": [plan_metric_labels(portal)[m] for m in suggestion["metrics"]],
    }
    return app_render(request, portal, f"{TEMPLATE}#suggest", context)


@csrf_exempt
@require_POST
@app_session_required
@plan_editor_required
def plan_suggestions_save(request: HttpRequest) -> HttpResponse:
    """Save the edited suggestions, every value checked before any is written."""
    portal, data, now = request.portal, request.POST, timezone.now()
    selection = grid_selection(request, data)
    month = plan_month_parse(portal, data.get("month", ""), now=now)
    values = {}
    for key, typed in data.items():
        target, _sep, metric = key.removeprefix("plan:").partition(":")
        if not key.startswith("plan:") or not typed.strip():
            continue  # an emptied suggestion is not planned
        cell = plan_cell_check(portal, request.plan_rights, month=month, level=PlanLevel.EMPLOYEE,
                               target=target, pipeline=ALL_PIPELINES, metric=metric)  # fmt: skip
        values[(cell.target, cell.metric)] = plan_value_parse(cell.metric, typed)
    changed = plan_suggest_save(portal, month=month, values=values, rights=request.plan_rights,
                                by=request.app_session.user_crm_id, now=now)  # fmt: skip
    message = _("%(count)d activity plans saved for %(month)s.") % {
        "count": changed,
        "month": month.strftime("%m.%Y"),
    }
    return grid_response(request, selection, message)


def grid_response(request: HttpRequest, selection: dict, message: str) -> HttpResponse:
    context = _context(request, selection, message=message)
    return app_render(request, request.portal, f"{TEMPLATE}#grid", context)
