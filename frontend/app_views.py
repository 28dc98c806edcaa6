"""The app inside the CRM iframe: entry from the CRM, then HTMX requests with the session."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from crmapp.models import Portal
from crmapp.selectors import import_progress, mirror_counts, portal_page_summary
from frontend.overview_page import overview_context
from frontend.rendering import app_render
from frontend.report_request import viewer_of
from frontend.session import AppSession, Role, app_session_required, session_issue
from integrations.bitrix24.install import (
    app_user,
    placement_parse,
    placement_verify,
    portal_application_token_learn,
    portal_for_placement,
    portal_reauthorise,
)
from integrations.errors import CrmError, InvalidPayload
from integrations.paid_state import portal_paid_state_refresh
from reports.quality import errors_to_fix

log = logging.getLogger(__name__)
RUSSIAN_SPEAKING = {"ru", "ua", "by", "kz"}
IMPORT_STEPS = {
    "directory": gettext_lazy("employees and pipelines"),
    "leads": gettext_lazy("leads"),
    "open_leads": gettext_lazy("older leads still in work"),
    "deals": gettext_lazy("deals"),
    "open_deals": gettext_lazy("older deals still in work"),
    "activities": gettext_lazy("calls, meetings, emails and tasks"),
    "planned_activities": gettext_lazy("planned activities"),
    "deal_history": gettext_lazy("deal stage history"),
    "lead_history": gettext_lazy("lead status history"),
    "derive_deals": gettext_lazy("last touches of deals"),
    "derive_leads": gettext_lazy("last touches of leads"),
    "facts": gettext_lazy("report totals"),
    "facts_lead": gettext_lazy("report totals of leads"),
    "facts_deal": gettext_lazy("report totals of deals"),
    "facts_activity": gettext_lazy("report totals of activities"),
    "done": gettext_lazy("done"),
}


@csrf_exempt
@require_POST
def bitrix24_app(request: HttpRequest) -> HttpResponse:
    """Bitrix24 opens the app by POSTing the placement payload into the iframe."""
    try:
        placement = placement_parse(request.GET.dict(), request.POST.dict())
    except InvalidPayload as error:
        return _refusal(request, 400, _("Malformed request from Bitrix24: %s") % error)
    language = "ru" if placement.lang in RUSSIAN_SPEAKING else "en"
    with translation.override(language):
        try:
            portal = portal_for_placement(placement)
        except Portal.DoesNotExist:
            return _refusal(request, 404, _("The application is not installed on this portal."))
        try:
            placement_verify(placement)
            user = app_user(placement, portal)
        except InvalidPayload as error:
            log.warning("unconfirmed app open on %s: %s", placement.domain, error)
            return _refusal(request, 403, _("Bitrix24 did not confirm who you are."))
        portal_reauthorise(portal, placement, user)
        portal_application_token_learn(portal, user, request.POST.get("APPLICATION_TOKEN", ""))
        _paid_state_refresh(portal)
        role = (
            Role.ADMIN
            if user.is_admin
            else Role.HEAD
            if user.headed_department_ids
            else Role.MANAGER
        )
        session = AppSession(
            portal_id=portal.pk,
            user_crm_id=user.crm_id,
            role=role,
            department_ids=user.headed_department_ids,
            language=language,
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
    progress["step_label"] = IMPORT_STEPS.get(progress["step"], progress["step"])
    context = {
        "portal": portal,
        "summary": portal_page_summary(portal, now=now),
        "progress": progress,
        "counts": mirror_counts(portal),
        "session": request.app_session,
        "session_token": request.app_session_token,
        "bx24_js": settings.BITRIX24_JS_API_URL,
        # A manager's first question when he opens the app: what must I fix?
        "errors_to_fix": (
            errors_to_fix(portal, request.app_session.user_crm_id, now=now)
            if request.app_session.role == Role.MANAGER and progress["phase"] == "done"
            else None
        ),
    }
    if not template.endswith("#progress"):  # the progress refreshes alone while importing
        context["overview"] = overview_context(
            portal, viewer_of(request.app_session), request.app_session_token
        )
    return app_render(request, portal, template, context)


def _refusal(request: HttpRequest, status: int, message: str) -> HttpResponse:
    return render(request, "frontend/refusal.html", {"message": message}, status=status)
