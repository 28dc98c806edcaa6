"""The admin's sales-floor links: the list, a new link and revoking one."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from frontend.plan_access import admin_required, text_answer
from frontend.rendering import app_render
from frontend.session import app_session_required
from reports.models import TvLink
from reports.tv_links import tv_link_create, tv_link_revoke


def tv_context(request: HttpRequest) -> dict:
    links = TvLink.objects.for_portal(request.portal).filter(revoked_at__isnull=True)
    return {
        "tv_links": [
            {
                "id": link.pk,
                "name": link.name,
                "created_at": link.created_at,
                "url": settings.PUBLIC_URL.rstrip("/") + reverse("tv", args=[link.token]),
            }
            for link in links.order_by("created_at")
        ]
    }


@csrf_exempt
@require_POST
@app_session_required
@admin_required
def plan_tv_create(request: HttpRequest) -> HttpResponse:
    name = request.POST.get("name", "").strip() or _("Sales floor")
    tv_link_create(
        request.portal, name=name, by=request.app_session.user_crm_id, now=timezone.now()
    )
    context = {"session": request.app_session} | tv_context(request)
    return app_render(request, request.portal, "frontend/plan_editor.html#tv", context)


@csrf_exempt
@require_POST
@app_session_required
@admin_required
def plan_tv_revoke(request: HttpRequest, link_id: int) -> HttpResponse:
    if not tv_link_revoke(request.portal, link_id=link_id, now=timezone.now()):
        return text_answer(404, _("There is no such link."))
    context = {"session": request.app_session} | tv_context(request)
    return app_render(request, request.portal, "frontend/plan_editor.html#tv", context)
