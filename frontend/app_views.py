"""The app inside the CRM iframe: entry from the CRM, then HTMX requests with the session."""

from __future__ import annotations

import logging

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from crmapp.models import Portal
from crmapp.selectors import import_progress, mirror_counts, portal_page_summary
from frontend.caveats import crm_caveats
from frontend.overview_page import overview_context
from frontend.rendering import app_render
from frontend.report_request import viewer_of
from frontend.session import AppSession, Role, app_session_required, session_issue
from integrations.base import AppOpenRefused
from integrations.errors import CrmError
from integrations.paid_state import portal_paid_state_refresh
from integrations.registry import crm
from reports.quality import errors_to_fix

log = logging.getLogger(__name__)
# The import's own steps; the history sources between them are labelled by the CRM, and
# the lanes after them name the last chunk's step and type (integrations.importer._lane).
IMPORT_STEPS = {
    "directory": gettext_lazy("employees and pipelines"),
    "derive_deal": gettext_lazy("last touches of deals"),
    "derive_lead": gettext_lazy("last touches of leads"),
    "facts_lead": gettext_lazy("report totals of leads"),
    "facts_deal": gettext_lazy("report totals of deals"),
    "facts_activity": gettext_lazy("report totals of activities"),
    "done": gettext_lazy("done"),
}


@csrf_exempt
@require_http_methods(["GET", "POST"])
def crm_app(request: HttpRequest, kind: str) -> HttpResponse:
    """The CRM opens the app by calling this page inside its frame (a POST of its placement,
    or a GET of the address its widget was given); the CRM's folder turns the call into who
    opens it (integrations.base.Crm.app_open)."""
    try:
        opening = crm(kind).app_open(request)
    except AppOpenRefused as refused:
        with translation.override(refused.language or translation.get_language()):
            return _refusal(request, refused.status, refused.message)
    portal = opening.portal
    with translation.override(opening.language):
        _paid_state_refresh(portal)
        session = AppSession(
            portal_id=portal.pk,
            user_crm_id=opening.user_crm_id,
            role=opening.role,
            department_ids=opening.department_ids,
            language=opening.language,
        )
        request.app_session, request.app_session_token = session, session_issue(session)
        portal.refresh_from_db()
        return _overview(request, portal)


def _paid_state_refresh(portal: Portal) -> None:
    """Each app page open reads the paid state, so a payment shows (and backfills) at once; a
    CRM that cannot answer now leaves the stored state for the daily read."""
    from integrations.tasks import portal_import

    try:
        run = portal_paid_state_refresh(portal, now=timezone.now())
    except CrmError as error:
        log.warning("paid state of %s not read on app open: %s", portal, error)
        return
    if run:
        transaction.on_commit(lambda: portal_import.delay(portal.pk, run))


@require_GET
@app_session_required
def app_overview(request: HttpRequest) -> HttpResponse:
    return _overview(request, request.portal)


@require_GET
@app_session_required
def app_progress(request: HttpRequest) -> HttpResponse:
    return _overview(request, request.portal, template="frontend/app_overview.html#progress")


def _overview(
    request: HttpRequest, portal: Portal, template: str = "frontend/app_overview.html"
) -> HttpResponse:
    now = timezone.now()
    progress = import_progress(portal, now=now)
    labels = IMPORT_STEPS | crm(portal.kind).history_source_labels()
    progress["step_label"] = labels.get(progress["step"], progress["step"])
    # Portal-wide record counts are an administrator's numbers, not a seller's. Once the
    # import is done the page's own figures come first: the counts (5M activities counted
    # take ~130 ms) load with the progress block when it is scrolled to.
    admin = request.app_session.role == Role.ADMIN
    counts_later = admin and progress["phase"] == "done" and not template.endswith("#progress")
    context = {
        "portal": portal,
        "summary": portal_page_summary(portal, now=now),
        "progress": progress,
        "counts": mirror_counts(portal) if admin and not counts_later else None,
        "counts_later": counts_later,
        "session": request.app_session,
        "session_token": request.app_session_token,
        # A manager's first question when he opens the app: what must I fix?
        "errors_to_fix": (
            errors_to_fix(portal, request.app_session.user_crm_id, now=now)
            if request.app_session.role == Role.MANAGER and progress["phase"] == "done"
            else None
        ),
    }
    if not template.endswith("#progress"):  # the progress refreshes alone while importing
        context["crm_caveats"] = crm_caveats(portal, "overview")
        context["overview"] = overview_context(
            portal, viewer_of(request.app_session), request.app_session_token
        )
    return app_render(request, portal, template, context)


def _refusal(request: HttpRequest, status: int, message: str) -> HttpResponse:
    return render(request, "frontend/refusal.html", {"message": message}, status=status)
