"""The ad-spend editor inside the CRM (admins): a grid of sources × months saved cell by cell
on leave, .xlsx out and in (checked whole before anything is written), the last changes.

Reads accept the session in the address (downloads); every change needs the X-App-Session
header, which a cross-site form cannot send.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from crmapp.selectors import portal_summary
from frontend.rendering import app_refusal, app_render
from frontend.session import Role, app_session_required
from reports.models import AdSpendChange
from reports.people import employee_labels
from reports.sources import source_names
from reports.spend import (
    SpendError,
    grid_months,
    spend_grid,
    spend_import,
    spend_month_parse,
    spend_set,
    spend_source_parse,
    spend_value_parse,
    spend_xlsx,
    spend_xlsx_read,
)
from reports.workbook import WorkbookRefused, upload_content

TEMPLATE = "frontend/spend_editor.html"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HISTORY = 20  # changes listed under the grid (all are in Django admin)


def _plain(status: int, message: str) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def _admin(view):
    """Only the portal's admins enter spend; bad input answers 400 with a sentence."""

    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.app_session.role != Role.ADMIN:
            return app_refusal(request, 403, _("Only the portal's administrator enters ad spend."))
        try:
            return view(request, *args, **kwargs)
        except SpendError as error:
            return _plain(400, str(error))

    wrapped.__name__ = view.__name__
    return wrapped


def _context(request: HttpRequest, **extra) -> dict:
    portal, now = request.portal, timezone.now()
    return {
        "portal": portal,
        "report": "marketing",
        "summary": portal_summary(portal, now=now),
        "session": request.app_session,
        "session_token": request.app_session_token,
        "grid": spend_grid(portal, months=grid_months(portal, now=now)),
        "changes": _changes(portal),
    } | extra


def _changes(portal) -> list[dict]:
    names = source_names(portal)
    changes = list(
        AdSpendChange.objects.for_portal(portal).order_by("-changed_at", "-id")[:HISTORY]
    )
    people = employee_labels(portal, {c.changed_by_crm_id for c in changes if c.changed_by_crm_id})
    return [
        {
            "month": c.month.strftime("%Y-%m"),
            "source": names.get(c.source_crm_id, c.source_crm_id),
            "old": None if c.old_cents is None else c.old_cents / 100,
            "new": None if c.new_cents is None else c.new_cents / 100,
            "by": people.get(c.changed_by_crm_id, c.changed_by_crm_id),
            "at": c.changed_at,
        }
        for c in changes
    ]


@require_GET
@app_session_required
@_admin
def spend_editor(request: HttpRequest) -> HttpResponse:
    return app_render(request, request.portal, TEMPLATE, _context(request))


@csrf_exempt  # authenticated by the X-App-Session header, which no other site can send
@require_POST
@app_session_required
@_admin
def spend_cell_save(request: HttpRequest) -> HttpResponse:
    """Save one cell (on leave). A bad value answers 400 with the cell showing why and what
    was typed, and saves nothing."""
    portal, data, now = request.portal, request.POST, timezone.now()
    month = spend_month_parse(portal, data.get("month", ""), now=now)
    source = spend_source_parse(portal, data.get("source", ""))
    typed = data.get("value", "")
    cell = {"month": month.strftime("%Y-%m"), "source": source}
    try:
        cents = spend_value_parse(typed)
    except SpendError as error:
        context = {"cell": cell | {"typed": typed, "error": str(error)}}
        return app_render(request, portal, "frontend/spend_cell.html", context, status=400)
    spend_set(portal, month=month, source=source, cents=cents,
              by=request.app_session.user_crm_id, now=now)  # fmt: skip
    context = {"cell": cell | {"value": None if cents is None else round(cents / 100, 2)}}
    return app_render(request, portal, "frontend/spend_cell.html", context)


@require_GET
@app_session_required
@_admin
def spend_export(request: HttpRequest) -> HttpResponse:
    grid = spend_grid(request.portal, months=grid_months(request.portal, now=timezone.now()))
    response = HttpResponse(spend_xlsx(grid), content_type=XLSX)
    response["Content-Disposition"] = 'attachment; filename="ad-spend.xlsx"'
    return response


@csrf_exempt
@require_POST
@app_session_required
@_admin
def spend_upload(request: HttpRequest) -> HttpResponse:
    portal, now = request.portal, timezone.now()
    upload = request.FILES.get("file")
    if upload is None:
        raise SpendError(_("Choose an .xlsx file to import."))
    try:
        content = upload_content(upload)
    except WorkbookRefused as error:
        raise SpendError(str(error)) from error
    cells = spend_xlsx_read(portal, content, now=now)
    changed = spend_import(portal, cells=cells, by=request.app_session.user_crm_id, now=now)
    message = _("%(count)d spend cells imported.") % {"count": changed}
    return app_render(request, portal, f"{TEMPLATE}#grid", _context(request, message=message))
