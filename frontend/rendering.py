"""Rendering a page of the app inside the CRM frame."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from crmapp.framing import frame_for_portal
from crmapp.models import Portal


def app_render(
    request: HttpRequest, portal: Portal, template: str, context: dict, *, status: int = 200
) -> HttpResponse:
    """Times in the portal's zone, the renewed session token in the header, and framing
    allowed only to the portal's own CRM."""
    with timezone.override(portal.time_zone):
        response = render(request, template, context, status=status)
    response["X-App-Session"] = request.app_session_token
    return frame_for_portal(response, portal)
