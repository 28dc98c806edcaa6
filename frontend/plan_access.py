"""Who may change plans, bonus rules and sales-floor links, and how a refusal is said."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from frontend.rendering import app_refusal
from frontend.report_request import viewer_of
from frontend.session import Role
from reports.plan_input import PlanError
from reports.scope import plan_rights


def text_answer(status: int, message: str) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def plan_editor_required(view):
    """Only admins and department heads edit plans; bad input answers 400 with a sentence."""

    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        rights = plan_rights(request.portal, viewer_of(request.app_session))
        if not rights.any:
            message = _("Only a head of sales or an administrator can edit plans.")
            return app_refusal(request, 403, message)
        request.plan_rights = rights
        try:
            return view(request, *args, **kwargs)
        except PlanError as error:
            return text_answer(400, str(error))
        except PermissionError:
            return app_refusal(request, 403, _("This plan belongs to another department."))

    wrapped.__name__ = view.__name__
    return wrapped


def admin_required(view):
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.app_session.role != Role.ADMIN:
            return app_refusal(request, 403, _("Only the portal's administrator can change this."))
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    return wrapped
