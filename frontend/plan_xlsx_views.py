"""The plan grid out to .xlsx (every metric, every row the editor sees) and back in."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from frontend.plan_access import plan_editor_required
from frontend.plan_editor_views import grid_of, grid_response, grid_selection
from frontend.session import app_session_required
from reports.models import PlanMetric
from reports.plan_edit import plan_import
from reports.plan_input import PlanError
from reports.plan_xlsx import plan_xlsx, plan_xlsx_read
from reports.workbook import WorkbookRefused, upload_content

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@require_GET
@app_session_required
@plan_editor_required
def plan_export(request: HttpRequest) -> HttpResponse:
    selection = grid_selection(request, request.GET)
    grids = [grid_of(request, selection, metric) for metric in PlanMetric.values]
    response = HttpResponse(plan_xlsx(grids), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="plan-{selection["year"]}.xlsx"'
    return response


@csrf_exempt
@require_POST
@app_session_required
@plan_editor_required
def plan_upload(request: HttpRequest) -> HttpResponse:
    portal, now = request.portal, timezone.now()
    selection = grid_selection(request, request.POST)
    upload = request.FILES.get("file")
    if upload is None:
        raise PlanError(_("Choose an .xlsx file to import."))
    try:
        content = upload_content(upload)
    except WorkbookRefused as error:
        raise PlanError(str(error)) from error
    cells = plan_xlsx_read(portal, content, rights=request.plan_rights, now=now)
    changed = plan_import(portal, cells=cells, by=request.app_session.user_crm_id, now=now)
    return grid_response(request, selection, _("%(count)d plans imported.") % {"count": changed})
