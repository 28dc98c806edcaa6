from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils.translation import gettext

from integrations.registry import crms


def home(request: HttpRequest) -> HttpResponse:
    """The product's public page; with a sandbox CRM configured (the demo), that portal."""
    if settings.SANDBOX_INFO or settings.SANDBOX_INFO_FILE:
        return redirect("crm-host")
    # The marketplaces are those of the CRMs the registry can install from, no more.
    names = [gettext(one.NAME) for one in crms()]
    return render(request, "frontend/home.html", {"marketplaces": " / ".join(names)})


def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """Browsers and crawlers ask for /favicon.ico whatever the page links."""
    return HttpResponsePermanentRedirect(static("frontend/favicon.svg"))


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
