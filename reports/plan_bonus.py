"""Bonus rules (an admin's tiers per metric) and the bonus a plan's fact earns by them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction

from crmapp.models import Portal
from reports.models import BonusRule, ReachUnit


@transaction.atomic
def bonus_rule_set(
    portal: Portal,
    *,
    metric: str,
    min_completion: Decimal,
    tiers: list[tuple[int, int]],
    by: int | None,
    now: datetime,
    reach_unit: str = ReachUnit.FACT,
) -> BonusRule:
    """Replace a metric's bonus rule; tiers are (reach, bonus cents) pairs, no tiers = none."""
    tiers = sorted(tiers)
    BonusRule.objects.for_portal(portal).filter(metric=metric).delete()
    return BonusRule.objects.create(
        portal=portal,
        metric=metric,
        min_completion=min_completion,
        reach_unit=reach_unit,
        tiers=[{"reach": reach, "bonus": bonus} for reach, bonus in tiers],
        updated_by_crm_id=by,
        updated_at=now,
    )


def bonus_earned(rule: BonusRule | None, *, plan: int | None, fact: int) -> int | None:
    """The bonus (cents) of one plan: the highest tier whose reach the fact (or its % of
    the plan) attains, and nothing below the minimum completion. None without a plan or a
    rule."""
    if rule is None or not rule.tiers or not plan:
        return None
    if 100 * fact < rule.min_completion * plan:
        return 0
    if rule.reach_unit == ReachUnit.PERCENT:
        reached = [tier["bonus"] for tier in rule.tiers if 10_000 * fact >= tier["reach"] * plan]
    else:
        reached = [tier["bonus"] for tier in rule.tiers if fact >= tier["reach"]]
    return max(reached, default=0)


def bonus_rules(portal: Portal) -> dict[str, BonusRule]:
    return {rule.metric: rule for rule in BonusRule.objects.for_portal(portal)}
