"""Report settings an admin edits inside the CRM: activity weights, forgotten thresholds, the
daily digest of forgotten deals, who takes part in the sales reports and the data-quality
rules."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from crmapp.models import Department, Employee, Pipeline, Stage
from crmapp.selectors import portal_page_summary
from frontend.rendering import app_refusal, app_render
from frontend.session import Role, app_session_required
from reports.efficiency import KINDS
from reports.labels import QUALITY_LABELS
from reports.models import QUALITY_RULES, ReportSettings
from reports.people import employee_labels

PLAN_STAGE = "plan_stage_"  # the form field naming one pipeline's plan stage
KIND_LABELS = {
    "call": gettext_lazy("Call"),
    "meeting": gettext_lazy("Meeting"),
    "email": gettext_lazy("E-mail"),
    "task": gettext_lazy("Task"),
    "other": gettext_lazy("Other activity"),
}


# The form's fields in the groups an admin looks for, by name or name prefix; a field in none
# of them (a setting added later) still shows, in the last group.
SECTIONS = [
    (gettext_lazy("Forgotten leads and deals"), ["lead_days", "deal_days", "digest_at"]),
    (gettext_lazy("Who takes part in the sales reports"), ["participant_"]),
    (gettext_lazy("Points for each activity"), ["weight_"]),
    (gettext_lazy("Data-quality checks"), ["rule_", "quality_in_notify"]),
    (gettext_lazy("Marketing"), ["gross_margin"]),
    (gettext_lazy("Activity plan: deals reaching a stage"), [PLAN_STAGE]),
]


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

    def __init__(self, *args, portal, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        departments = Department.objects.for_portal(portal).order_by("sort", "name")
        people = Employee.objects.for_portal(portal).order_by("-active", "name")
        labels = employee_labels(portal, people.values_list("crm_id", flat=True))
        fired = _("fired")
        self.fields["participant_departments"] = forms.TypedMultipleChoiceField(
            label=_("Departments taking part in the sales reports"),
            choices=[(d.crm_id, d.name) for d in departments],
            coerce=int,
            required=False,
            widget=forms.CheckboxSelectMultiple,
        )
        self.fields["participant_employees"] = forms.TypedMultipleChoiceField(
            label=_("…and people (none chosen: everyone who sells)"),
            choices=[
                (e.crm_id, labels[e.crm_id] if e.active else f"{labels[e.crm_id]} ({fired})")
                for e in people
            ],
            coerce=int,
            required=False,
            widget=forms.CheckboxSelectMultiple,
        )
        for kind in KINDS:
            self.fields[f"weight_{kind}"] = forms.IntegerField(
                label=KIND_LABELS[kind],
                min_value=0,
                max_value=100,
            )
        for rule in QUALITY_RULES:
            self.fields[f"rule_{rule}"] = forms.BooleanField(
                label=QUALITY_LABELS[rule], required=False
            )
        self.fields["quality_in_notify"] = forms.BooleanField(
            label=gettext_lazy("Reminders and the daily digest also list data-quality errors"),
            required=False,
        )
        for pipeline in Pipeline.objects.for_portal(portal).order_by("sort", "name"):
            stages = Stage.objects.for_portal(portal).filter(entity_type="deal", pipeline=pipeline)
            self.fields[f"{PLAN_STAGE}{pipeline.crm_id}"] = forms.ChoiceField(
                label=_("The plan's stage to reach in %(pipeline)s") % {"pipeline": pipeline.name},
                choices=[("", _("none")), *((s.crm_id, s.name) for s in stages.order_by("sort"))],
                required=False,
            )

    def plan_stages(self) -> dict[str, str]:
        """{pipeline CRM id: stage CRM id} of the pipelines given a plan stage."""
        return {
            name.removeprefix(PLAN_STAGE): value
            for name, value in self.cleaned_data.items()
            if name.startswith(PLAN_STAGE) and value
        }

    def sections(self) -> list[tuple[str, list]]:
        """The bound fields group by group, in SECTIONS' order."""
        placed: set[str] = set()
        groups = []
        for legend, names in SECTIONS:
            fields = [
                self[name]
                for name in self.fields
                if name not in placed and any(name.startswith(prefix) for prefix in names)
            ]
            placed.update(field.name for field in fields)
            groups.append((legend, fields))
        rest = [self[name] for name in self.fields if name not in placed]
        if rest:
            groups[-1][1].extend(rest)
        return [(legend, fields) for legend, fields in groups if fields]


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
               "digest_at": current.digest_at, "gross_margin": current.gross_margin,
               "participant_departments": current.participant_departments,
               "participant_employees": current.participant_employees} | {
        f"weight_{kind}": current.weights.get(kind, 0) for kind in KINDS
    } | {f"rule_{rule}": rule in current.quality_rules_enabled() for rule in QUALITY_RULES} | {
        "quality_in_notify": current.quality_in_notify
    } | {f"{PLAN_STAGE}{p}": stage for p, stage in current.plan_stages.items()}  # fmt: skip
    saved = False
    if request.method == "POST":
        form = ReportSettingsForm(request.POST, portal=portal)
        if form.is_valid():
            data = form.cleaned_data
            current.lead_days, current.deal_days = data["lead_days"], data["deal_days"]
            current.digest_at = data["digest_at"]
            current.gross_margin = data["gross_margin"]
            current.participant_departments = sorted(data["participant_departments"])
            current.participant_employees = sorted(data["participant_employees"])
            current.weights = {kind: data[f"weight_{kind}"] for kind in KINDS}
            current.quality_rules = {rule: data[f"rule_{rule}"] for rule in QUALITY_RULES}
            current.quality_in_notify = data["quality_in_notify"]
            current.plan_stages = form.plan_stages()
            current.save()
            saved = True
        status = 200 if form.is_valid() else 400
    else:
        form, status = ReportSettingsForm(initial=initial, portal=portal), 200
    context = {
        "portal": portal,
        "form": form,
        "saved": saved,
        "report": "settings",
        "summary": portal_page_summary(portal, now=timezone.now()),
        "session": request.app_session,
        "session_token": request.app_session_token,
    }
    return app_render(request, portal, "frontend/report_settings.html", context, status=status)
