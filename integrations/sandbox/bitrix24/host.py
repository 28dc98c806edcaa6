"""The sandbox "CRM host" page: frames the app the way Bitrix24 does, for the demo and tests.

Bitrix24 opens an app by POSTing the placement payload into an iframe, and the app talks back
through the BX24 JS API (postMessage to the portal page). This page does the same against
the sandbox portal named by SANDBOX_INFO_FILE (the JSON `manage.py sandbox serve` prints);
without it the page does not exist.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from urllib.parse import urlencode

from csp.decorators import csp_exempt
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from crmapp.models import Employee, Portal

from ..amocrm.host import amocrm_sandbox_info
from ..client import SandboxControl


@cache
def _info_from(path: str) -> dict:
    return json.loads(Path(path).read_text())


def sandbox_control() -> SandboxControl:
    if settings.SANDBOX_INFO:
        return SandboxControl(settings.SANDBOX_INFO)
    if settings.SANDBOX_INFO_FILE and Path(settings.SANDBOX_INFO_FILE).exists():
        return SandboxControl(_info_from(settings.SANDBOX_INFO_FILE))
    raise Http404("no sandbox CRM is configured (SANDBOX_INFO_FILE)")


@require_GET
@csp_exempt()  # the stand-in for the CRM's own page (demo and tests), not part of the app
def crm_host(request: HttpRequest) -> HttpResponse:
    """The portal page with our app in its iframe, opened as `?user=<id>` (default the admin)."""
    control = sandbox_control()
    user_id = int(request.GET.get("user") or 1)
    payload = control.placement(user_id=user_id)
    portal = Portal.objects.filter(member_id=control.info["install"]["member_id"]).first()
    users = (
        Employee.objects.for_portal(portal).filter(active=True).order_by("name")
        if portal
        else Employee.objects.none()
    )
    return render(
        request,
        "sandbox/bitrix24/crm_host.html",
        {
            "action": f"/bitrix24/app/?{urlencode(payload['query'])}",
            "fields": payload["body"],
            "domain": control.info["domain"],
            "users": users,
            "user_id": user_id,
            "portal": portal,
            "amocrm_account": amocrm_sandbox_info() is not None,
        },
    )


@require_POST
def crm_host_install_finish(request: HttpRequest) -> JsonResponse:
    """BX24.installFinish() from the framed install page, relayed to the sandbox portal."""
    sandbox_control().install_finish()
    return JsonResponse({"finished": True})
