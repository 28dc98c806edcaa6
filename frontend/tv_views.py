"""The sales-floor screen: a read-only page for a TV in the office, opened by a secret link
an admin creates and revokes (reports.plans.tv_link_*). It shows only the link's portal and
refreshes itself every few seconds; a revoked link answers 404 at once."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.views.decorators.http import require_GET

from frontend.app_views import RUSSIAN_SPEAKING
from reports.models import PlanMetric
from reports.plan_fact import plan_today
from reports.plans import tv_link_portal
from reports.scope import Viewer, scope_resolve

REFRESH_SECONDS = 5


@require_GET
def tv_board(request: HttpRequest, token: str) -> HttpResponse:
    portal = tv_link_portal(token)
    language = "ru" if portal is None or portal.language in RUSSIAN_SPEAKING else "en"
    with translation.override(language):
        if portal is None:
            return render(request, "frontend/tv.html", {"revoked": True}, status=404)
        now = timezone.now()
        today = now.astimezone(ZoneInfo(portal.time_zone)).date()
        scope = scope_resolve(
            portal, Viewer.operator(), start=today.replace(day=1), end=today, now=now
        )
        money = plan_today(scope, PlanMetric.WON_SUM, today=today)
        counts = {
            row["id"]: row
            for row in plan_today(scope, PlanMetric.WON_COUNT, today=today)["employees"]
        }
        context = {
            "portal": portal,
            "board": money,
            "counts": counts,
            "now": now,
            "refresh": REFRESH_SECONDS,
        }
        template = "frontend/tv.html#board" if request.htmx else "frontend/tv.html"
        with timezone.override(portal.time_zone):
            response = render(request, template, context)
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response
