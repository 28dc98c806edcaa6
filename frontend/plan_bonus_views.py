"""The admin's bonus rules for won sum and won count: the form and its save."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from frontend.plan_access import admin_required, text_answer
from frontend.rendering import app_render
from frontend.session import app_session_required
from reports.models import PlanMetric, ReachUnit
from reports.plan_bonus import bonus_rule_set, bonus_rules
from reports.plan_input import PlanError, metric_parse, plan_value_parse, plan_value_show

TIERS = 3  # bonus tier rows offered in the form


def bonus_context(request: HttpRequest) -> dict:
    rules = bonus_rules(request.portal)
    forms = []
    for metric, label in (
        (PlanMetric.WON_SUM, _("Won, sum")),
        (PlanMetric.WON_COUNT, _("Won, count")),
    ):
        rule = rules.get(metric)
        unit = rule.reach_unit if rule else ReachUnit.PERCENT
        tiers = [
            (
                tier["reach"] / 100
                if unit == ReachUnit.PERCENT
                else plan_value_show(metric, tier["reach"]),
                round(tier["bonus"] / 100, 2),
            )
            for tier in (rule.tiers if rule else [])
        ]
        tiers += [(None, None)] * (TIERS - len(tiers))
        forms.append(
            {
                "metric": metric,
                "label": label,
                "min_completion": rule.min_completion if rule else "",
                "reach_unit": unit,
                "reach_fact_label": _("the fact, money")
                if metric == PlanMetric.WON_SUM
                else _("the fact, deals"),
                "tiers": tiers,
            }
        )
    return {"bonus_forms": forms}


@csrf_exempt
@require_POST
@app_session_required
@admin_required
def plan_bonus_save(request: HttpRequest) -> HttpResponse:
    data = request.POST
    try:
        metric = metric_parse(data.get("metric", ""))
        min_completion = _percent(data.get("min_completion", ""), MIN_COMPLETION)
        unit = data.get("reach_unit", "")
        if unit not in ReachUnit.values:
            raise PlanError(_("Say whether the thresholds are amounts or % of the plan."))
        tiers = []
        for index in range(TIERS):
            typed = data.get(f"reach_{index}", "")
            if unit == ReachUnit.PERCENT:
                reach = int(_percent(typed, REACH_PERCENT) * 100) if typed.strip() else None
            else:
                reach = plan_value_parse(metric, typed)
            bonus = plan_value_parse(PlanMetric.WON_SUM, data.get(f"bonus_{index}", ""))
            if (reach is None) != (bonus is None):
                raise PlanError(_("A bonus tier needs both what to reach and the bonus."))
            if reach is not None:
                tiers.append((reach, bonus))
        if len({reach for reach, _bonus in tiers}) < len(tiers):
            raise PlanError(_("Two bonus tiers cannot have the same threshold."))
    except PlanError as error:
        return text_answer(400, str(error))
    bonus_rule_set(
        request.portal,
        metric=metric,
        min_completion=min_completion,
        tiers=tiers,
        reach_unit=unit,
        by=request.app_session.user_crm_id,
        now=timezone.now(),
    )
    context = {"session": request.app_session, "saved": metric} | bonus_context(request)
    return app_render(request, request.portal, "frontend/plan_editor.html#bonus", context)


MIN_COMPLETION = gettext_lazy("The minimum completion is a percentage, such as 80.")
REACH_PERCENT = gettext_lazy("A threshold in % of the plan is a percentage, such as 120.")


def _percent(text: str, refusal: str) -> Decimal:
    typed = (text or "0").strip().replace(",", ".")
    try:
        value = Decimal(typed)
    except InvalidOperation as error:
        raise PlanError(str(refusal)) from error
    if not value.is_finite() or not 0 <= value <= 1000 or value != round(value, 2):
        raise PlanError(str(refusal))
    return value
