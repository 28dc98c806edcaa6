"""Report pages inside the CRM iframe: one filter bar, tables, charts, drill-downs, exports.

Every request names its filters in the query string (so a view can be reloaded and shared
while the session lasts) and goes through `scope_resolve`, where the role rules live.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import push_url

from crmapp.models import Department, Employee, Pipeline
from crmapp.selectors import import_progress, portal_page_summary
from frontend.caveats import crm_caveats
from frontend.dynamics_page import BLOCKS as DYNAMICS_BLOCKS
from frontend.dynamics_page import (
    dynamics_block_context,
    dynamics_context,
    dynamics_options,
)
from frontend.marketing_context import PAGE_BLOCKS as MARKETING_BLOCKS
from frontend.marketing_context import marketing_block_context, marketing_context
from frontend.paging import page_number, page_rows, pager
from frontend.plan_page import BLOCKS as PLAN_BLOCKS
from frontend.plan_page import plan_block_context, plan_context
from frontend.rendering import app_refusal, app_render
from frontend.report_request import FILTERS, SOURCE, BadFilter, scope_from_query, viewer_of
from frontend.session import DOWNLOAD_QUERY, Role, app_session_required, download_token_issue
from frontend.templatetags.humanize_ru import period
from reports.catalog import REPORTS, report_listing, report_listing_known
from reports.dynamics import PARTS as DYNAMICS_PARTS
from reports.dynamics import dynamics, dynamics_tables, parts_unneeded
from reports.efficiency import COLUMN_GROUPS, COLUMNS, DYNAMICS, efficiency_dynamics
from reports.export import report_xlsx
from reports.forgotten import COUNTS as FORGOTTEN_COUNTS
from reports.forgotten import forgotten
from reports.labels import MARKETING_LABELS, QUALITY_LABELS, column_label, report_title
from reports.marketing import LEAD_LIST_LIMIT, marketing
from reports.marketing_tables import marketing_tables
from reports.notify import forgotten_notify
from reports.people import employee_labels
from reports.quality import COUNTS as QUALITY_COUNTS
from reports.quality import quality, quality_reasons
from reports.read_once import read_once
from reports.scope import (
    PRESETS,
    Scope,
    ScopeRefused,
    Viewer,
    default_period,
    scope_resolve,
    visible_departments,
)
from reports.sources import source_names

# What a page's address carries besides the filters.
PAGE_PARAMS = (*FILTERS, "sort", "lsort", "age_min", "age_max")
# What a drill-down's address adds to name a cell of a table wider than an employee.
DRILL_OPTIONS = ("stage", "entity", "state")
# A page's blocks of their own address (report_block).
BLOCKS = {"plan": PLAN_BLOCKS, "dynamics": DYNAMICS_BLOCKS, "marketing": MARKETING_BLOCKS}
LIST_LIMIT = 200
# The reports that count from the mirror, where the leads' and deals' UTM fields are; the
# aggregates the others read have no UTM dimension.
UTM_REPORTS = ("marketing",)
DRILL_LIMIT = 500
CHART_PEOPLE = 30  # the bar chart shows the employees with the most errors
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _viewer(request: HttpRequest) -> Viewer:
    return viewer_of(request.app_session)


def _scope(request: HttpRequest, report: str = "") -> Scope:
    scope = scope_from_query(request.GET, request.portal, _viewer(request), report=report)
    if scope.utm and report not in UTM_REPORTS:
        raise BadFilter(_("The UTM filters apply to the marketing report."))
    return scope


def _guarded(view):
    """Bad filters answer 400 and foreign data 403, with a sentence a person can act on."""

    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except BadFilter as error:
            return app_refusal(request, 400, str(error))
        except ScopeRefused:
            message = _("You can see only your own numbers (and your departments').")
            return app_refusal(request, 403, message)

    wrapped.__name__ = view.__name__
    return wrapped


def _read_once(view):
    """A page composes several reports (a table and its dynamics): they read the portal's
    settings, sellers and names once."""

    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        with read_once():
            return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    return wrapped


def _download_query(request: HttpRequest, **changes) -> str:
    """The current filters for a file download of this address: a short-lived token for that
    download only, not the session."""
    token = download_token_issue(request.app_session, request.path)
    return f"{_query(request, session=False, **changes)}&{urlencode({DOWNLOAD_QUERY: token})}"


def _query(request: HttpRequest, *, session: bool = True, **changes) -> str:
    """The current filters (with `changes`) as a query string, carrying the session for
    addresses a browser opens by itself (downloads, a reload); HTMX sends it as a header."""
    params = {key: request.GET.get(key, "") for key in PAGE_PARAMS}
    params[SOURCE] = request.GET.getlist(SOURCE)
    params |= changes
    params = {key: value for key, value in params.items() if value not in ("", None, [])}
    if session:
        params["s"] = request.app_session_token
    return urlencode(params, doseq=True)


@require_GET
@app_session_required
@_guarded
@_read_once
def report_page(request: HttpRequest, name: str) -> HttpResponse:
    if name not in REPORTS:
        raise Http404(name)
    scope = _scope(request, name)
    if request.GET.get("format") == "xlsx" and name == "marketing":
        return _xlsx(request, name, scope, _marketing_export(request, scope))
    if request.GET.get("format") == "xlsx":
        labels = {"quality": QUALITY_LABELS, "marketing": MARKETING_LABELS}.get(name)
        return _xlsx(request, name, scope, _export_data(request, name, scope), labels=labels)
    data = _page_data(request, name, scope)
    context = _context(request, name, scope) | {"data": data}
    if name == "dynamics":
        context |= dynamics_context(request.GET, data)
    if name == "marketing":
        context |= marketing_context(request, scope, data, _query)
    if name == "efficiency":
        context |= _efficiency_context(request, scope, data)
    if name == "forgotten":
        context |= _forgotten_context(request, data)
    if name == "plan":
        context |= plan_context(request, scope, _query)
    if name == "quality":
        context |= _quality_context(request, scope, data)
    template = f"frontend/report_{name}.html"
    if request.htmx and request.htmx.target == "report":
        template += "#report"
    response = _render(request, template, context)
    if request.htmx:
        push_url(response, f"{request.path}?{_query(request)}")
    return response


@require_GET
@app_session_required
@_guarded
@_read_once
def report_block(request: HttpRequest, name: str, block: str) -> HttpResponse:
    """One block of a report page alone, under the page's session, role and filters: one
    loaded when scrolled to, or another page of a long table."""
    if block not in BLOCKS.get(name, ()):
        raise Http404(block)
    scope = _scope(request, name)
    if name == "plan":
        context = plan_block_context(request, scope, block, _query)
    elif name == "marketing":
        context = marketing_block_context(request, scope, block, _query)
    else:
        context = dynamics_block_context(request, scope, block, _query, limit=LIST_LIMIT)
    if (name, block) == ("dynamics", "employees"):
        # The block pages its own table, in place, keeping the charted metric.
        rows, employee_pager = _employee_page(
            request, context.pop("employees"), target=f"#{name}-{block}", keep=("metric", "grain")
        )
        context |= {"employee_rows": rows, "employee_pager": employee_pager}
    context = _links(request, name, scope) | context
    return _render(request, f"frontend/report_{name}.html#{block}", context)


def _page_data(request: HttpRequest, name: str, scope: Scope) -> dict:
    """A page lists the first rows of its long lists; the export and the API hold them all."""
    if name == "forgotten":
        return forgotten(scope, limit=LIST_LIMIT)
    if name == "dynamics":
        options = dynamics_options(request.GET)
        return dynamics(
            scope, limit=LIST_LIMIT, stage_employees=False, without=DYNAMICS_PARTS, **options
        )
    if name == "quality":
        return quality(scope, limit=LIST_LIMIT, details=True)
    if name == "marketing":
        return marketing(scope, lead_limit=LEAD_LIST_LIMIT, without=MARKETING_BLOCKS)
    if name == "plan":
        return {}  # its page reads the plan's own selectors (_plan_context), not the rows
    return REPORTS[name](scope)


def _export_data(request: HttpRequest, name: str, scope: Scope) -> dict:
    if name == "quality":
        data = quality(scope, details=True)
        return {key: data[key] for key in ("employees", "by_rule", "deals")}
    if name == "marketing":
        return _marketing_export(request, scope)
    if name != "dynamics":
        return REPORTS[name](scope)
    table = request.GET.get("table") or None
    try:  # one block's table (its own export button), or every block
        data = dynamics(scope, without=parts_unneeded(table), **dynamics_options(request.GET))
        return dynamics_tables(data, table)
    except ValueError as error:
        raise BadFilter(str(error)) from error


@require_GET
@app_session_required
@_guarded
def report_drill(request: HttpRequest, name: str) -> HttpResponse:
    what = request.GET.get("what", "")
    if name not in REPORTS or not report_listing_known(name, what):
        raise BadFilter(_("Nothing to list for %(what)r") % {"what": what})
    scope = _scope(request, name)
    labels = {"quality": QUALITY_LABELS, "marketing": MARKETING_LABELS}.get(name)
    try:
        if request.GET.get("format") == "xlsx":
            rows = report_listing(name, scope, what, options=request.GET)["rows"]
            return _xlsx(request, f"{name}-{what}", scope, {"rows": rows}, labels=labels)
        listing = report_listing(name, scope, what, limit=DRILL_LIMIT, options=request.GET)
    except ValueError as error:  # a rule switched off in Settings, a cell's coordinates typed wrong
        raise BadFilter(str(error)) from error
    context = {
        "report": name,
        "listing": listing,
        "what": what,
        "what_label": column_label(what.split(":")[0], labels),
        "cut": listing["total"] > len(listing["rows"]),
        "export_query": _download_query(
            request, what=what, format="xlsx", **{k: request.GET.get(k, "") for k in DRILL_OPTIONS}
        ),
    }
    return _render(request, "frontend/report_drill.html", context)


@csrf_exempt  # authenticated by the X-App-Session header, which no other site can send
@require_POST
@app_session_required
@_guarded
def forgotten_notify_view(request: HttpRequest) -> HttpResponse:
    if request.app_session.role == Role.MANAGER:
        message = _("Only a head of sales or an administrator can send reminders.")
        return app_refusal(request, 403, message)
    scope = _scope(request, "forgotten")
    sent = forgotten_notify(scope)
    message = _("Reminders sent to %(people)d employees about %(deals)d deals.") % {
        "people": len(sent),
        "deals": sum(sent.values()),
    }
    return HttpResponse(format_html('<p class="notice" role="status">{}</p>', message))


def _xlsx(
    request: HttpRequest, name: str, scope: Scope, data: dict, labels: dict | None = None
) -> HttpResponse:
    period = f"{scope.start:%d.%m.%Y} — {scope.end:%d.%m.%Y}"
    filters = [
        (_("Period"), period),
        *((str(column_label(key)), _filter_name(scope, key, value))
          for key, value in scope.filters.items() if value is not None),
        *((str(column_label(key)), request.GET[key])
          for key in ("age_min", "age_max", *DRILL_OPTIONS) if request.GET.get(key)),
        *([(_("Note"), scope.clamp_notice())] if scope.clamped else []),
    ]  # fmt: skip
    report, _sep, what = name.partition("-")
    title = report_title(report) + (f": {column_label(what)}" if what else "")
    if report == "plan" and not what:
        data = data | {"rows": _plan_rows_named(scope, data["rows"])}
    body = report_xlsx(data, title=f"{title}, {period}", filters=filters, labels=labels)
    response = HttpResponse(body, content_type=XLSX)
    response["Content-Disposition"] = (
        f'attachment; filename="{name}-{scope.start.isoformat()}-{scope.end.isoformat()}.xlsx"'
    )
    return response


def _filter_name(scope: Scope, key: str, value) -> str:
    """A filter as the page shows it: the pipeline's, department's or employee's name."""
    models = {"pipeline": Pipeline, "department": Department}
    if key == "employee":
        return employee_labels(scope.portal, [value]).get(value, str(value))
    if key in models:
        found = models[key].objects.for_portal(scope.portal).filter(crm_id=value).first()
        return found.name if found else str(value)
    if isinstance(value, tuple | list):
        return ", ".join(str(item) for item in value)
    return str(value)


def _plan_rows_named(scope: Scope, rows: list[dict]) -> list[dict]:
    """The plan's rows with the names the file is read by, beside the ids it is joined by."""
    people = employee_labels(scope.portal, {int(r["id"]) for r in rows if r["level"] == "employee"})
    departments = dict(Department.objects.for_portal(scope.portal).values_list("crm_id", "name"))
    pipelines = dict(Pipeline.objects.for_portal(scope.portal).values_list("crm_id", "name"))
    named = []
    for row in rows:
        crm_id = int(row["id"])
        name = people.get(crm_id) if row["level"] == "employee" else departments.get(crm_id)
        pipeline = row["pipeline_id"]
        named.append({
            "month": row["month"], "level": row["level"], "name": name or row["id"],
            "pipeline": pipelines.get(int(pipeline), pipeline) if pipeline else _("All"),
            **{key: value for key, value in row.items() if key not in ("month", "level")},
        })  # fmt: skip
    return named


def _marketing_export(request: HttpRequest, scope: Scope) -> dict:
    tables = marketing_tables(marketing(scope))
    block = request.GET.get("block") or ""
    if block and block not in tables:
        raise BadFilter(_("Unknown block %(value)r") % {"value": block})
    return {block: tables[block]} if block else tables


def _context(request: HttpRequest, name: str, scope: Scope) -> dict:
    portal, now = request.portal, timezone.now()
    viewer = _viewer(request)
    employees = Employee.objects.for_portal(portal).order_by("name")
    # The employee list is the chosen department's (else everyone the viewer may see).
    department = scope.filters.get("department")
    if scope.employees is not None and (viewer.role != Viewer.ADMIN or department is not None):
        allowed = scope_resolve(
            portal, viewer, start=scope.start, end=scope.end, department=department
        ).employees
        employees = employees.filter(crm_id__in=allowed)
    return _links(request, name, scope) | {
        "crm_caveats": crm_caveats(portal, name),
        "summary": portal_page_summary(portal, now=now),
        "progress": import_progress(portal, now=now),
        "session": request.app_session,
        "session_token": request.app_session_token,
        "presets": PRESETS,
        "period": request.GET.get("period") or default_period(name),
        "pipelines": Pipeline.objects.for_portal(portal).order_by("sort", "name"),
        "departments": visible_departments(portal, viewer),
        "employees": employees.filter(active=True),
        "export_query": _download_query(request, format="xlsx"),
        **_source_choices(portal, request.GET.getlist(SOURCE)),
    }


def _links(request: HttpRequest, name: str, scope: Scope) -> dict:
    """What a page and each of its blocks link with: the filters, the session."""
    page = reverse("report", args=[name])
    plain = _query(request, session=False)
    return {
        "portal": request.portal,
        "report": name,
        "scope": scope,
        "session": request.app_session,
        "session_token": request.app_session_token,
        "query": _query(request),
        # HTMX sends the session as a header: its links need only the filters.
        "hx_query": plain,
        # Built once and without the session: a year's table has thousands of these links.
        "drill_base": f"{reverse('report-drill', args=[name])}?{plain}",
        "page_path": page,
        "block_base": f"{page}block/",
        "filter_values": {key: request.GET.get(key, "") for key in PAGE_PARAMS},
    }


def _source_choices(portal, chosen: list[str]) -> dict:
    options = list(source_names(portal).items())
    tokens = set(chosen)
    return {
        "source_options": options,
        "selected_source_tokens": tokens,
        "selected_source_names": [name for id, name in options if (id or "-") in tokens],
    }


def _efficiency_context(request: HttpRequest, scope: Scope, data: dict) -> dict:
    metric = request.GET.get("metric") or "won_sum"
    sort = request.GET.get("sort") or "-won_sum"  # the best sellers first
    column, descending = sort.removeprefix("-"), sort.startswith("-")
    if column not in (*COLUMNS, "name"):
        raise BadFilter(_("Unknown column to sort by: %(value)r") % {"value": sort})
    grain = request.GET.get("grain") or "month"
    if metric not in DYNAMICS or grain not in ("month", "quarter"):
        raise BadFilter(_("Unknown metric or grain"))
    # Dynamics look back a year from the period's end, within the tier's window.
    start = scope.end.replace(year=scope.end.year - 1, day=1)
    dynamics = efficiency_dynamics(
        scope_resolve(scope.portal, _viewer(request), start=start, end=scope.end, **scope.filters),
        metric,
        grain=grain,
    )
    # 200 sellers' rows of drill links were 750 KB: a page of them at a time.
    rows, employee_pager = _employee_page(
        request, _sorted_rows(data["employees"], column, descending)
    )
    return {
        "columns": [(column, column_label(column)) for column in COLUMNS],
        "column_groups": [
            (column_label(group), len(keys)) for group, keys in COLUMN_GROUPS.items()
        ],
        "rows": rows,
        "employee_pager": employee_pager,
        "fired": {
            str(crm_id)
            for crm_id in Employee.objects.for_portal(scope.portal)
            .filter(active=False, crm_id__in=[row["id"] for row in data["employees"]])
            .values_list("crm_id", flat=True)
        },
        "sort": sort,
        "sort_query": _query(request, sort=""),
        "dynamics": dynamics,
        "dynamics_metrics": [(m, column_label(m)) for m in DYNAMICS],
        "metric": metric,
        "grain": grain,
        "chart": json.dumps(
            {
                "labels": [period(label) for label in dynamics["periods"]],
                "label": str(column_label(metric)),
                "values": dynamics["totals"],
            }
        ),
    }


def _forgotten_context(request: HttpRequest, data: dict) -> dict:
    by_employee = _("By employee")
    # A page of the employees at a time: 200 of them were two thirds of the page.
    people, employee_pager = _employee_page(request, data["by_employee"])
    departments = [row for row in data["by_department"] if row.get("id")]
    chart = {
        "labels": [row["name"] for row in departments],
        "datasets": [
            {"label": str(column_label(key)), "type": "bar",
             "values": [row[key] for row in departments]}
            for key in ("forgotten_deals", "no_next_step_deals", "forgotten_leads")
        ],
    }  # fmt: skip
    return {
        "tables": [
            (by_employee, people),
            (_("By department"), data["by_department"]),
        ],
        "employee_pager": employee_pager,
        "by_employee_title": by_employee,
        "count_columns": [(key, column_label(key)) for key in FORGOTTEN_COUNTS],
        "department_chart": json.dumps(chart) if len(departments) > 1 else None,
    }


def _quality_context(request: HttpRequest, scope: Scope, data: dict) -> dict:
    """The summary's columns (a page of its employees), the split by rule and each listed
    deal's cells: one per enabled rule, failing ones with the reason said in words (the
    cell's title)."""
    rules = data["rules"]
    people = data["employees"][:CHART_PEOPLE]
    employee_rows, employee_pager = _employee_page(request, data["employees"])
    return {
        "employee_rows": employee_rows,
        "employee_pager": employee_pager,
        "columns": [(key, QUALITY_LABELS[key]) for key in (*QUALITY_COUNTS, "share", *rules)],
        "rule_columns": [(rule, QUALITY_LABELS[rule]) for rule in rules],
        "rule_rows": [row | {"label": QUALITY_LABELS[row["rule"]]} for row in data["by_rule"]],
        # In Python: a literal "%" in a template's translate tag is looked up as "%%".
        "rule_share_label": _("Share of the checked, %"),
        "deal_rows": [(deal, quality_reasons(scope, deal, rules)) for deal in data["deals"]],
        "chart": json.dumps(
            {
                "labels": [row["name"] for row in people],
                "datasets": [
                    _bars(QUALITY_LABELS[key], [row[key] for row in people])
                    for key in QUALITY_COUNTS
                ],
            }
        ),
    }


def _bars(label, values: list) -> dict:
    return {"label": str(label), "values": values, "type": "bar"}


def _employee_page(
    request: HttpRequest, rows: list[dict], *, target: str = "#report", keep: tuple = ()
) -> tuple[list[dict], dict | None]:
    """The page of a report's employee rows asked for (`page`) and its pager, which
    replaces `target` (the whole report, or the block that holds the table) with the
    request's `keep` parameters; the export holds every row."""
    number = page_number(request.GET, "page", len(rows))
    kept = {key: request.GET[key] for key in keep if request.GET.get(key)}

    def link(page: int) -> tuple[str, str]:
        return (
            f"{request.path}?{_query(request, page=page, **kept)}",
            f"{request.path}?{_query(request, session=False, page=page, **kept)}",
        )

    return page_rows(rows, number), pager("employees", number, len(rows), target=target,
                                          link=link)  # fmt: skip


def _sorted_rows(rows: list[dict], column: str, descending: bool) -> list[dict]:
    """Rows by `column`, empty values (a rate without deals) last either way, then by name."""
    if column == "name":
        return sorted(rows, key=lambda row: row["name"].casefold(), reverse=descending)
    present = [row for row in rows if row[column] is not None]
    present.sort(key=lambda row: row["name"].casefold())
    present.sort(key=lambda row: row[column], reverse=descending)
    return present + [row for row in rows if row[column] is None]


def _render(request: HttpRequest, template: str, context: dict) -> HttpResponse:
    return app_render(request, request.portal, template, context)
