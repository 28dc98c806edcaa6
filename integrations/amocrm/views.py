"""GET /amocrm/oauth/callback/: where amoCRM sends the admin who grants us access."""

from __future__ import annotations

import logging

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from integrations.amocrm.install import (
    NotAdministrator,
    installation_confirm,
    portal_install,
)
from integrations.base import RUSSIAN_SPEAKING
from integrations.errors import CrmError, InvalidPayload

log = logging.getLogger(__name__)


@require_GET
def oauth_callback(request: HttpRequest) -> HttpResponse:
    code, referer = request.GET.get("code", ""), request.GET.get("referer", "")
    if request.GET.get("error"):
        # The admin pressed "deny" on amoCRM's consent screen.
        return _refusal(request, 400, _("Access was not granted in amoCRM: nothing was installed."))
    try:
        installation = installation_confirm(code, referer)
    except InvalidPayload as error:
        log.warning("amoCRM install refused for %r: %s", referer, error)
        return _refusal(request, 400, _("amoCRM did not confirm this install: %s") % error)
    except NotAdministrator as error:
        log.error("ALERT: a non-administrator tried to install the app on %s: %s", referer, error)
        return _refusal(
            request, 403, _("Only an account administrator can install the application.")
        )
    except CrmError as error:
        log.warning("amoCRM install on %r could not finish: %s", referer, error)
        return _refusal(request, 502, _("amoCRM did not answer; please try the install again."))

    from integrations.tasks import portal_connect

    portal = portal_install(installation, now=timezone.now())
    # The connect task subscribes our webhook, reads the paid state and starts the import.
    transaction.on_commit(lambda: portal_connect.apply_async((portal.pk,), countdown=3))
    language = "ru" if installation.language in RUSSIAN_SPEAKING else "en"
    with translation.override(language):
        return render(request, "amocrm/installed.html", {"portal": portal})


def _refusal(request: HttpRequest, status: int, message: str) -> HttpResponse:
    return render(request, "frontend/refusal.html", {"message": message}, status=status)
