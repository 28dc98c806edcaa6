"""The sales-floor screen: a read-only page for a TV in the office, opened by a secret link
an admin creates and revokes (reports.tv_links). It shows only the link's portal and
refreshes itself every few seconds; a revoked link answers 404 at once."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.views.decorators.http import require_GET

from integrations.base import RUSSIAN_SPEAKING
from reports.models import PlanMetric
from reports.plan_fact import plan_fact
from reports.plan_labels import plan_metric_labels
from reports.plan_today import plan_today
from reports.scope import Viewer, scope_resolve
from reports.tv_links import tv_link_portal

REFRESH_SECONDS = 5
# Today's counts beside the money: what each seller did today against his day plan.
TODAY_COUNTS = (PlanMetric.WON_COUNT, PlanMetric.DEALS_CREATED, PlanMetric.CALLS,
                PlanMetric.MEETINGS, PlanMetric.STAGE_REACHED)  # fmt: skip


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
        data = plan_fact(scope, split=False)  # one read for every metric's board
        labels = plan_metric_labels(portal)
        money = plan_today(scope, PlanMetric.WON_SUM, today=today, data=data)
        by_metric = {
            metric: {
                row["id"]: row
                for row in plan_today(scope, metric, today=today, data=data)["employees"]
            }
            for metric in TODAY_COUNTS
        }
        context = {
            "portal": portal,
            "board": money,
            "today": [
                {
                    "id": row["id"],
                    "name": row["name"],
                    "won_today": row["fact_today"],
                    "counts": [
                        by_metric[metric].get(row["id"], {}) | {"metric": metric}
                        for metric in TODAY_COUNTS
                    ],
                }
                for row in money["employees"]
            ],
            "count_labels": [labels[metric] for metric in TODAY_COUNTS],
            "now": now,
            "refresh": REFRESH_SECONDS,
        }
        template = "frontend/tv.html#board" if request.htmx else "frontend/tv.html"
        with timezone.override(portal.time_zone):
            response = render(request, template, context)
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response
