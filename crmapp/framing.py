"""Who may put our pages in an iframe: the portal's own CRM, never anyone else."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse

from crmapp.models import Portal


def frame_for_portal(response: HttpResponse, portal: Portal) -> HttpResponse:
    """CSP frame-ancestors instead of X-Frame-Options: DENY would break the CRM's iframe.
    The rest of the policy (script-src, object-src, base-uri) is the site's, from django-csp
    (CONTENT_SECURITY_POLICY in settings)."""
    origins = [f"https://{portal.domain}", *settings.FRAME_ANCESTORS_EXTRA]
    response._csp_replace = {"frame-ancestors": origins}
    response.xframe_options_exempt = True
    return response
