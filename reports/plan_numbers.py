"""The numbers of plan vs fact (DESIGN.md "plan", "bonus"): which aggregate each plan
metric is counted from, one month × target × pipeline's plan, fact, repeat and bonus
(`PlanNumbers`), and their figures in the report's units."""

from __future__ import annotations

from django.db.models import Q

from reports.metrics import ACTIVITY_KEYS, DEAL_CREATED, DEAL_STAGE_IN, DEAL_WON
from reports.models import PlanMetric, ReportSettings
from reports.plan_input import plan_value_show

METRICS = tuple(PlanMetric)
# The aggregate each plan metric's fact is counted from (REPORTS.md "Activity plan").
FACT_OF = {
    PlanMetric.WON_SUM: DEAL_WON,
    PlanMetric.WON_COUNT: DEAL_WON,
    PlanMetric.DEALS_CREATED: DEAL_CREATED,
    PlanMetric.CALLS: ACTIVITY_KEYS["call"],
    PlanMetric.MEETINGS: ACTIVITY_KEYS["meeting"],
    PlanMetric.STAGE_REACHED: DEAL_STAGE_IN,
}
COUNTED = {fact: metric for metric, fact in FACT_OF.items() if fact != DEAL_WON}
ALL = None  # the pipeline key of "all pipelines" in the report's rows


class PlanNumbers:
    """Plan, won, repeat, the counted activity and bonus of one month × target × pipeline
    key.

    `planned` is the part of the fact that a plan covers: a total whose plan is typed for
    only some of its people is completed by their fact, not by everyone's (a company plan
    of one department against the whole company's sales read 2 240 %).

    `has_plans` says whether any plan or bonus is set: most sums are of people without
    one, and skipping their empty plans halves a year's table."""

    __slots__ = ("bonus", "counted", "has_plans", "plan", "planned", "repeat_cents",
                 "repeat_qty", "won_cents", "won_qty")  # fmt: skip

    def __init__(self) -> None:
        self.plan: dict[str, int | None] = dict.fromkeys(METRICS)
        self.planned: dict[str, int] = dict.fromkeys(METRICS, 0)
        self.bonus: dict[str, int | None] = dict.fromkeys(METRICS)
        self.counted: dict[str, int] = dict.fromkeys(COUNTED.values(), 0)
        self.won_qty = self.won_cents = self.repeat_qty = self.repeat_cents = 0
        self.has_plans = False

    def add(self, other: PlanNumbers, *, plans: bool = True) -> None:
        if other.has_plans:
            self.has_plans = True
            bonus = self.bonus
            for metric, value in other.bonus.items():
                if value is not None:
                    bonus[metric] = _add(bonus[metric], value)
            if plans:
                self.plans_add(other)
        self.won_qty += other.won_qty
        self.won_cents += other.won_cents
        self.repeat_qty += other.repeat_qty
        self.repeat_cents += other.repeat_cents
        counted = self.counted
        for metric, qty in other.counted.items():
            if qty:
                counted[metric] += qty

    def plans_add(self, other: PlanNumbers) -> None:
        """Every metric's plan (and the fact it covers) of `other` added to this one's."""
        if other.has_plans:
            self.has_plans = True
            plan, planned = self.plan, self.planned
            for metric, value in other.plan.items():
                if value is not None:
                    plan[metric] = _add(plan[metric], value)
            for metric, value in other.planned.items():
                if value:
                    planned[metric] += value

    def plan_type(self, metric: str, value: int) -> None:
        """A plan typed for this target itself: it covers all of its fact."""
        self.has_plans = True
        self.plan[metric] = value
        self.planned[metric] = self.fact(metric)

    def fact(self, metric: str) -> int:
        if metric in self.counted:
            return self.counted[metric]
        return self.won_cents if metric == PlanMetric.WON_SUM else self.won_qty

    def won_add(self, qty: int, cents: int) -> None:
        self.won_qty += qty
        self.won_cents += cents

    def counted_add(self, counts: dict[str, int]) -> None:
        for metric, qty in counts.items():
            self.counted[metric] += qty

    def repeat(self, metric: str) -> int:
        return self.repeat_cents if metric == PlanMetric.WON_SUM else self.repeat_qty


def _add(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else a + b


def fact_rows(portal, metrics) -> Q:
    """The aggregate rows the facts of these plan metrics are counted from: a stage entry
    counts only for the stage its pipeline's "reached the stage" plan names (Settings)."""
    where = Q(metric__in=[FACT_OF[m] for m in metrics if m != PlanMetric.STAGE_REACHED])
    if PlanMetric.STAGE_REACHED in metrics:
        named = Q(pk__in=[])  # no stage named: nothing is reached
        for pipeline, stage in ReportSettings.of(portal).plan_stages.items():
            named |= Q(pipeline_crm_id=int(pipeline), stage_crm_id=stage)
        where |= Q(metric=FACT_OF[PlanMetric.STAGE_REACHED]) & named
    return where


def plan_figures(numbers: PlanNumbers, metric: str) -> dict:
    """plan, fact, completion, remaining, repeat share and bonus of one metric, in the
    report's units: money rounded to 2 decimals, percentages 0–100, None without a base.
    Completion and remaining count the planned fact; `planned_fact` says what that is when
    the plan covers only part of the fact (else None)."""
    plan, fact = numbers.plan[metric], numbers.fact(metric)
    planned, bonus = numbers.planned[metric], numbers.bonus[metric]
    return {
        "plan": plan_value_show(metric, plan),
        "fact": plan_value_show(metric, fact),
        "completion": _ratio(planned, plan),
        "planned_fact": plan_value_show(metric, planned)
        if plan is not None and planned != fact
        else None,
        "remaining": plan_value_show(metric, max(plan - planned, 0)) if plan is not None else None,
        "repeat_share": _ratio(numbers.repeat(metric), fact),
        "bonus": round(bonus / 100, 2) if bonus is not None else None,
    }


def _ratio(part: int, whole: int | None) -> float | None:
    return round(100 * part / whole, 2) if whole else None
