"""Report settings an admin edits inside the CRM: activity weights, forgotten thresholds and
the daily digest of forgotten deals."""

from __future__ import annotations

from django import forms
from django.conf import settings as django_settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from crmapp.selectors import portal_page_summary
from frontend.rendering import app_refusal, app_render
from frontend.session import Role, app_session_required
from reports.efficiency import KINDS
from reports.models import ReportSettings

KIND_LABELS = {
    "call": gettext_lazy("Call"),
    "meeting": gettext_lazy("Meeting"),
    "email": gettext_lazy("E-mail"),
    "task": gettext_lazy("Task"),
    "other": gettext_lazy("Other activity"),
}


class ReportSettingsForm(forms.Form):
    lead_days = forms.IntegerField(
        label=gettext_lazy("A lead is forgotten after, days"), min_value=1, max_value=365
    )
    deal_days = forms.IntegerField(
        label=gettext_lazy("A deal is forgotten after, days"), min_value=1, max_value=365
    )
    digest_at = forms.TimeField(
        label=gettext_lazy("Daily reminder of forgotten deals at (empty: off)"), required=False
    )
    gross_margin = forms.DecimalField(
        label=gettext_lazy("Gross margin, % (for the marketing ROI; empty: ROI hidden)"),
        required=False, min_value=0, max_value=100, decimal_places=2,
    )  # fmt: skip

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for kind in KINDS:
            self.fields[f"weight_{kind}"] = forms.IntegerField(
                label=_("Points for: %(kind)s") % {"kind": KIND_LABELS[kind]},
                min_value=0,
                max_value=100,
            )


@csrf_exempt  # authenticated by the X-App-Session header, which no other site can send
@require_http_methods(["GET", "POST"])
@app_session_required
def report_settings(request: HttpRequest) -> HttpResponse:
    portal = request.portal
    if request.app_session.role != Role.ADMIN:
        return app_refusal(
            request, 403, _("Only the portal's administrator can change the settings.")
        )
    current = ReportSettings.of(portal)
    initial = {"lead_days": current.lead_days, "deal_days": current.deal_days,
               "digest_at": current.digest_at, "gross_margin": current.gross_margin} | {
        f"weight_{kind}": current.weights.get(kind, 0) for kind in KINDS
    }  # fmt: skip
    saved = False
    if request.method == "POST":
        form = ReportSettingsForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            current.lead_days, current.deal_days = data["lead_days"], data["deal_days"]
            current.digest_at = data["digest_at"]
            current.gross_margin = data["gross_margin"]
            current.weights = {kind: data[f"weight_{kind}"] for kind in KINDS}
            current.save()
            saved = True
        status = 200 if form.is_valid() else 400
    else:
        form, status = ReportSettingsForm(initial=initial), 200
    context = {
        "portal": portal,
        "form": form,
        "saved": saved,
        "report": "settings",
        "summary": portal_page_summary(portal, now=timezone.now()),
        "session": request.app_session,
        "session_token": request.app_session_token,
        "bx24_js": django_settings.BITRIX24_JS_API_URL,
    }
    return app_render(request, portal, "frontend/report_settings.html", context, status=status)
