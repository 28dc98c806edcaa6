"""The plan editor inside the CRM: a grid of months × employees (grouped by department) for
one pipeline (or all) and one metric, saved cell by cell; copy, fill, .xlsx in and out; the
bonus rules and the sales-floor links (admins).

Reads accept the session in the address (downloads); every change needs the X-App-Session
header, which a cross-site form cannot send.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from crmapp.models import Pipeline
from crmapp.selectors import portal_summary
from frontend.rendering import app_refusal, app_render
from frontend.report_request import viewer_of
from frontend.session import Role, app_session_required, download_token_issue
from reports.models import ALL_PIPELINES, PlanLevel, PlanMetric, ReachUnit, TvLink
from reports.plan_fact import plan_metric_labels
from reports.plan_suggest import plan_suggest, plan_suggest_save
from reports.plans import (
    PlanError,
    bonus_rule_set,
    bonus_rules,
    metric_parse,
    month_add,
    pipeline_parse,
    plan_cell_check,
    plan_grid,
    plan_import,
    plan_month_copy,
    plan_month_parse,
    plan_months_allowed,
    plan_row_fill,
    plan_set,
    plan_value_parse,
    plan_value_show,
    plan_xlsx,
    plan_xlsx_read,
    tv_link_create,
    tv_link_revoke,
)
from reports.scope import PlanRights, plan_rights
from reports.workbook import WorkbookRefused, upload_content

TEMPLATE = "frontend/plan_editor.html"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TIERS = 3  # bonus tier rows offered in the form


def _plain(status: int, message: str) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def _editor(view):
    """Only admins and department heads edit plans; bad input answers 400 with a sentence."""

    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        rights = plan_rights(request.portal, viewer_of(request.app_session))
        if not rights.any:
            message = _("Only a head of sales or an administrator can edit plans.")
            return app_refusal(request, 403, message)
        request.plan_rights = rights
        try:
            return view(request, *args, **kwargs)
        except PlanError as error:
            return _plain(400, str(error))
        except PermissionError:
            return app_refusal(request, 403, _("This plan belongs to another department."))

    wrapped.__name__ = view.__name__
    return wrapped


def _admin(view):
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.app_session.role != Role.ADMIN:
            return app_refusal(request, 403, _("Only the portal's administrator can change this."))
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    return wrapped


def _today(request: HttpRequest) -> date:
    return timezone.now().astimezone(ZoneInfo(request.portal.time_zone)).date()


def _selection(request: HttpRequest, data) -> dict:
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


def _grid(request: HttpRequest, selection: dict, metric: str | None = None) -> dict:
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
        "grid": _grid(request, selection),
        "query": f"year={selection['year']}&metric={selection['metric']}"
        f"&pipeline={'' if selection['pipeline'] == ALL_PIPELINES else selection['pipeline']}",
        "export_token": download_token_issue(request.app_session, reverse("plan-export")),
    }
    if request.app_session.role == Role.ADMIN:
        context |= _bonus_context(request) | _tv_context(request)
    return context | extra


@require_GET
@app_session_required
@_editor
def plan_editor(request: HttpRequest) -> HttpResponse:
    selection = _selection(request, request.GET)
    template = TEMPLATE
    if request.htmx and request.htmx.target == "plan-grid":
        template += "#grid"
    return app_render(request, request.portal, template, _context(request, selection))


@csrf_exempt  # authenticated by the X-App-Session header, which no other site can send
@require_POST
@app_session_required
@_editor
def plan_cell_save(request: HttpRequest) -> HttpResponse:
    """Save one cell (on blur); answer the cell and, out of band, the department defaults
    that depend on it. A bad value answers 400 with the cell showing why, and saves nothing."""
    portal, data, now = request.portal, request.POST, timezone.now()
    selection = _selection(request, data)
    month = plan_month_parse(portal, data.get("month", ""), now=now)
    cell = plan_cell_check(
        portal,
        request.plan_rights,
        month=month,
        level=data.get("level", ""),
        target=data.get("id"),
        pipeline=selection["pipeline"],
        metric=selection["metric"],
    )
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
        return _plain(status or 200, error or _("Saved."))
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
@_editor
def plan_copy(request: HttpRequest) -> HttpResponse:
    portal, now = request.portal, timezone.now()
    selection = _selection(request, request.POST)
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
    return _grid_response(request, selection, message)


@csrf_exempt
@require_POST
@app_session_required
@_editor
def plan_fill(request: HttpRequest) -> HttpResponse:
    """The empty months of the year's row, from this month on, get the row's first plan;
    past and typed months stay as they are."""
    portal, data, now = request.portal, request.POST, timezone.now()
    selection = _selection(request, data)
    first, last = plan_months_allowed(portal, now=now)
    this_month = timezone.localtime(now, ZoneInfo(portal.time_zone)).date().replace(day=1)
    months = [date(selection["year"], month, 1) for month in range(1, 13)]
    cells = [
        plan_cell_check(
            portal,
            request.plan_rights,
            month=month,
            level=data.get("level", ""),
            target=data.get("id"),
            pipeline=selection["pipeline"],
            metric=selection["metric"],
        )
        for month in months
        if first <= month <= last
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
    return _grid_response(request, selection, message)


@require_GET
@app_session_required
@_editor
def plan_suggestions(request: HttpRequest) -> HttpResponse:
    """The activity plans the month's won-count plans call for, to edit before saving."""
    portal, now = request.portal, timezone.now()
    selection = _selection(request, request.GET)
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
@_editor
def plan_suggestions_save(request: HttpRequest) -> HttpResponse:
    """Save the edited suggestions, every value checked before any is written."""
    portal, data, now = request.portal, request.POST, timezone.now()
    selection = _selection(request, data)
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
    return _grid_response(request, selection, message)


@require_GET
@app_session_required
@_editor
def plan_export(request: HttpRequest) -> HttpResponse:
    selection = _selection(request, request.GET)
    grids = [_grid(request, selection, metric) for metric in PlanMetric.values]
    response = HttpResponse(plan_xlsx(grids), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="plan-{selection["year"]}.xlsx"'
    return response


@csrf_exempt
@require_POST
@app_session_required
@_editor
def plan_upload(request: HttpRequest) -> HttpResponse:
    portal, now = request.portal, timezone.now()
    selection = _selection(request, request.POST)
    upload = request.FILES.get("file")
    if upload is None:
        raise PlanError(_("Choose an .xlsx file to import."))
    try:
        content = upload_content(upload)
    except WorkbookRefused as error:
        raise PlanError(str(error)) from error
    cells = plan_xlsx_read(portal, content, rights=request.plan_rights, now=now)
    changed = plan_import(portal, cells=cells, by=request.app_session.user_crm_id, now=now)
    return _grid_response(request, selection, _("%(count)d plans imported.") % {"count": changed})


def _grid_response(request: HttpRequest, selection: dict, message: str) -> HttpResponse:
    context = _context(request, selection, message=message)
    return app_render(request, request.portal, f"{TEMPLATE}#grid", context)


# -- bonus rules ---------------------------------------------------------------------------


def _bonus_context(request: HttpRequest) -> dict:
    rules = bonus_rules(request.portal)
    forms = []
    for metric, label in (
        (PlanMetric.WON_SUM, _("Won, sum")),
        (PlanMetric.WON_COUNT, _("Won, count")),
    ):
        rule = rules.get(metric)
        unit = rule.reach_unit if rule else ReachUnit.PERCENT
        tiers = [
            (
                tier["reach"] / 100
                if unit == ReachUnit.PERCENT
                else plan_value_show(metric, tier["reach"]),
                round(tier["bonus"] / 100, 2),
            )
            for tier in (rule.tiers if rule else [])
        ]
        tiers += [(None, None)] * (TIERS - len(tiers))
        forms.append(
            {
                "metric": metric,
                "label": label,
                "min_completion": rule.min_completion if rule else "",
                "reach_unit": unit,
                "reach_fact_label": _("the fact, money")
                if metric == PlanMetric.WON_SUM
                else _("the fact, deals"),
                "tiers": tiers,
            }
        )
    return {"bonus_forms": forms}


@csrf_exempt
@require_POST
@app_session_required
@_admin
def plan_bonus_save(request: HttpRequest) -> HttpResponse:
    data = request.POST
    try:
        metric = metric_parse(data.get("metric", ""))
        min_completion = _percent(data.get("min_completion", ""), MIN_COMPLETION)
        unit = data.get("reach_unit", "")
        if unit not in ReachUnit.values:
            raise PlanError(_("Say whether the thresholds are amounts or % of the plan."))
        tiers = []
        for index in range(TIERS):
            typed = data.get(f"reach_{index}", "")
            if unit == ReachUnit.PERCENT:
                reach = int(_percent(typed, REACH_PERCENT) * 100) if typed.strip() else None
            else:
                reach = plan_value_parse(metric, typed)
            bonus = plan_value_parse(PlanMetric.WON_SUM, data.get(f"bonus_{index}", ""))
            if (reach is None) != (bonus is None):
                raise PlanError(_("A bonus tier needs both what to reach and the bonus."))
            if reach is not None:
                tiers.append((reach, bonus))
        if len({reach for reach, _bonus in tiers}) < len(tiers):
            raise PlanError(_("Two bonus tiers cannot have the same threshold."))
    except PlanError as error:
        return _plain(400, str(error))
    bonus_rule_set(
        request.portal,
        metric=metric,
        min_completion=min_completion,
        tiers=tiers,
        reach_unit=unit,
        by=request.app_session.user_crm_id,
        now=timezone.now(),
    )
    context = {"session": request.app_session, "saved": metric} | _bonus_context(request)
    return app_render(request, request.portal, f"{TEMPLATE}#bonus", context)


MIN_COMPLETION = gettext_lazy("The minimum completion is a percentage, such as 80.")
REACH_PERCENT = gettext_lazy("A threshold in % of the plan is a percentage, such as 120.")


def _percent(text: str, refusal: str) -> Decimal:
    typed = (text or "0").strip().replace(",", ".")
    try:
        value = Decimal(typed)
    except InvalidOperation as error:
        raise PlanError(str(refusal)) from error
    if not value.is_finite() or not 0 <= value <= 1000 or value != round(value, 2):
        raise PlanError(str(refusal))
    return value


# -- sales-floor links ---------------------------------------------------------------------


def _tv_context(request: HttpRequest) -> dict:
    links = TvLink.objects.for_portal(request.portal).filter(revoked_at__isnull=True)
    return {
        "tv_links": [
            {
                "id": link.pk,
                "name": link.name,
                "created_at": link.created_at,
                "url": settings.PUBLIC_URL.rstrip("/") + reverse("tv", args=[link.token]),
            }
            for link in links.order_by("created_at")
        ]
    }


@csrf_exempt
@require_POST
@app_session_required
@_admin
def plan_tv_create(request: HttpRequest) -> HttpResponse:
    name = request.POST.get("name", "").strip() or _("Sales floor")
    tv_link_create(
        request.portal, name=name, by=request.app_session.user_crm_id, now=timezone.now()
    )
    context = {"session": request.app_session} | _tv_context(request)
    return app_render(request, request.portal, f"{TEMPLATE}#tv", context)


@csrf_exempt
@require_POST
@app_session_required
@_admin
def plan_tv_revoke(request: HttpRequest, link_id: int) -> HttpResponse:
    if not tv_link_revoke(request.portal, link_id=link_id, now=timezone.now()):
        return _plain(404, _("There is no such link."))
    context = {"session": request.app_session} | _tv_context(request)
    return app_render(request, request.portal, f"{TEMPLATE}#tv", context)
