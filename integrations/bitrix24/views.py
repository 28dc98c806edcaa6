"""POST /bitrix24/install/: the install page Bitrix24 opens in the admin's browser."""

from __future__ import annotations

import logging

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from crmapp.framing import frame_for_portal
from integrations.bitrix24.host import host_scripts
from integrations.bitrix24.install import (
    placement_parse,
    placement_user_is_admin,
    placement_verify,
    portal_install,
)
from integrations.errors import CrmError, InvalidPayload
from integrations.registry import adapter_for

log = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def install(request: HttpRequest) -> HttpResponse:
    try:
        placement = placement_parse(request.GET.dict(), request.POST.dict())
    except InvalidPayload as error:
        log.warning("malformed Bitrix24 install: %s", error)
        return _refusal(request, 400, _("Malformed install request: %s") % error)
    try:
        placement_verify(placement)
    except InvalidPayload as error:
        log.warning("unconfirmed Bitrix24 install for %s: %s", placement.domain, error)
        return _refusal(request, 403, _("Bitrix24 did not confirm this install: %s") % error)
    try:
        admin = placement_user_is_admin(placement)
    except InvalidPayload as error:
        log.warning("install on %s by an unknown user: %s", placement.domain, error)
        return _refusal(request, 403, _("Bitrix24 did not confirm this install: %s") % error)
    if not admin:
        # The install hands us the installer's tokens and rights; an employee's would run
        # the sync with his rights and restart the import.
        log.error("ALERT: a non-admin tried to install the app on %s: refused", placement.domain)
        return _refusal(request, 403, _("Only a portal administrator can install the application."))

    from integrations.tasks import portal_connect

    portal = portal_install(
        placement,
        application_token=request.POST.get("APPLICATION_TOKEN", ""),
        now=timezone.now(),
    )
    # Bind before this page calls BX24.installFinish(), which makes Bitrix24 send ONAPPINSTALL
    # (with the application token) to the bound handlers. If Bitrix24 is busy, the connect
    # task binds again, and the token also arrives with the first app page open.
    try:
        adapter_for(portal).events_bind()
    except CrmError as error:
        log.warning("binding events of %s deferred: %s", portal, error)
    transaction.on_commit(lambda: portal_connect.apply_async((portal.pk,), countdown=3))
    response = render(
        request,
        "bitrix24/install.html",
        {"portal": portal, "crm_host_scripts": host_scripts()},
    )
    return frame_for_portal(response, portal)


def _refusal(request: HttpRequest, status: int, message: str) -> HttpResponse:
    return render(request, "frontend/refusal.html", {"message": message}, status=status)
