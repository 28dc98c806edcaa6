"""The sandbox amoCRM account page: frames the app the way our widget does (demo and tests).

In amoCRM the widget's `$authorizedAjax` sends a one-time JWT to POST /amocrm/app/session/
and frames the address it gets back. This page asks the sandbox account (named by
AMOCRM_SANDBOX_INFO_FILE, the JSON `manage.py sandbox serve --crm amocrm` prints) for that
JWT and does the same; without a sandbox account the page does not exist.
"""

from __future__ import annotations

import json
from pathlib import Path

from csp.decorators import csp_exempt
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from crmapp.models import Employee, Portal

from ..client import SandboxControl


def amocrm_sandbox_info() -> dict | None:
    if settings.AMOCRM_SANDBOX_INFO:
        return settings.AMOCRM_SANDBOX_INFO
    path = settings.AMOCRM_SANDBOX_INFO_FILE
    if path and Path(path).exists():
        return json.loads(Path(path).read_text())
    return None


@require_GET
@csp_exempt()  # the stand-in for amoCRM's own page (demo and tests), not part of the app
def crm_host(request: HttpRequest) -> HttpResponse:
    """The account page with our widget's frame, opened as `?user=<id>` (default an admin)."""
    info = amocrm_sandbox_info()
    if info is None:
        raise Http404("no sandbox amoCRM account is configured (AMOCRM_SANDBOX_INFO_FILE)")
    portal = Portal.objects.filter(
        kind=Portal.Kind.AMOCRM, member_id=str(info["account_id"])
    ).first()
    users = (
        Employee.objects.for_portal(portal).filter(active=True).order_by("name")
        if portal
        else Employee.objects.none()
    )
    user_id = int(request.GET.get("user") or info["portal"]["admin_user_id"])
    control = SandboxControl(info)
    token = control.request("POST", "/widget_token", {"user_id": user_id})["token"]
    return render(
        request,
        "sandbox/amocrm/crm_host.html",
        {
            "token": token,
            "domain": info["domain"],
            "subdomain": info["subdomain"],
            "users": users,
            "user_id": user_id,
            "portal": portal,
        },
    )
