"""Rendering a page of the app inside the CRM frame."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from crmapp.framing import frame_for_portal
from crmapp.models import Portal
from crmapp.selectors import portal_page_summary
from integrations.registry import crm_name, host_scripts


def app_render(
    request: HttpRequest, portal: Portal, template: str, context: dict, *, status: int = 200
) -> HttpResponse:
    """Times in the portal's zone, the renewed session token in the header, and framing
    allowed only to the portal's own CRM, whose host script the page loads."""
    context = {"crm_host_scripts": host_scripts(portal), "crm_name": crm_name(portal), **context}
    with timezone.override(portal.time_zone):
        response = render(request, template, context, status=status)
    response["X-App-Session"] = request.app_session_token
    return frame_for_portal(response, portal)


def app_refusal(request: HttpRequest, status: int, message: str) -> HttpResponse:
    """A refused request inside the frame, framed like every page (a DENY frame would show a
    blank box): an HTMX request gets the sentence, shown where the user acted; a page load
    gets the app's page saying it."""
    if request.htmx:
        response = HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
        response["X-App-Session"] = request.app_session_token
        return frame_for_portal(response, request.portal)
    context = {
        "portal": request.portal,
        "message": message,
        "summary": portal_page_summary(request.portal, now=timezone.now()),
        "session": request.app_session,
        "session_token": request.app_session_token,
    }
    return app_render(request, request.portal, "frontend/app_refusal.html", context, status=status)
