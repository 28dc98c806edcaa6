"""Aggregates the reports read instead of scanning the mirror.

One row per portal × day (in the portal's time zone) × metric × responsible employee ×
pipeline × source × stage, holding a count, a sum in cents (exact on every database, so an
incremental total and a rebuilt one compare equal) and a sum of seconds (cycle, stage time).
Dimensions are the CRM's ids, with 0 / -1 / "" meaning "none", never NULL: unique keys treat
NULLs as distinct, and the incremental upsert must always find its row.
"""

from __future__ import annotations

from django.db import models

from crmapp.scoping import PortalOwned
from reports.read_once import remembered

NO_EMPLOYEE = 0
NO_PIPELINE = -1  # a CRM's default pipeline may have id 0


FACT_KEY = (
    "day",
    "metric",
    "employee_crm_id",
    "pipeline_crm_id",
    "source_crm_id",
    "stage_crm_id",
)


class _Facts(PortalOwned):
    """What a daily and a monthly aggregate row share: all but their date."""

    # Millions of rows are written in one rebuild transaction: no deferred foreign-key check
    # per row, and no index of its own (the unique key starts with the portal). The portal's
    # rows are deleted with it (crmapp.lifecycle).
    portal = models.ForeignKey(
        "crmapp.Portal",
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    metric = models.CharField(max_length=24)
    employee_crm_id = models.BigIntegerField(default=NO_EMPLOYEE)
    pipeline_crm_id = models.BigIntegerField(default=NO_PIPELINE)
    source_crm_id = models.CharField(max_length=64, default="")
    stage_crm_id = models.CharField(max_length=64, default="")
    qty = models.BigIntegerField(default=0)
    amount_cents = models.BigIntegerField(default=0)
    seconds = models.BigIntegerField(default=0)

    class Meta(PortalOwned.Meta):
        abstract = True


class DayFact(_Facts):
    day = models.DateField()

    KEY = FACT_KEY

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["portal", *FACT_KEY], name="dayfact_unique_key")
        ]
        indexes = [
            models.Index(fields=["portal", "metric", "day"], name="dayfact_metric_day"),
        ]


MONTH_KEY = ("month", *FACT_KEY[1:])


class MonthFact(_Facts):
    """DayFact summed by calendar month (`month` is its first day), written with every
    DayFact delta in the same transaction. A year's report reads a dozen months here instead
    of 365 days of rows; only a period's ragged edges come from DayFact."""

    month = models.DateField()

    KEY = MONTH_KEY

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["portal", *MONTH_KEY], name="monthfact_unique_key")
        ]
        indexes = [
            models.Index(fields=["portal", "metric", "month"], name="monthfact_metric_month"),
        ]


class FactCheck(PortalOwned):
    """One self-check: sampled days of the incremental aggregates against a recount."""

    checked_at = models.DateTimeField()
    days = models.JSONField(default=list)
    # [{"day", "metric", "employee", "pipeline", "source", "stage", "stored", "expected"}]
    mismatches = models.JSONField(default=list)

    class Meta:
        indexes = [models.Index(fields=["portal", "checked_at"], name="factcheck_time")]

    @property
    def ok(self) -> bool:
        return not self.mismatches


def default_weights() -> dict[str, int]:
    return {"meeting": 5, "call": 2, "email": 1, "task": 1, "other": 1}


# The data-quality rules in the report's order (REPORTS.md "Data quality").
QUALITY_RULES = ("zero_amount", "no_client", "no_source", "overdue_close", "no_next_step",
                 "inactive_owner")  # fmt: skip


def default_quality_rules() -> dict[str, bool]:
    return dict.fromkeys(QUALITY_RULES, True)


class ReportSettings(PortalOwned):
    """What a portal's admin tunes: activity weights, forgotten thresholds, the daily digest.
    User-entered, so never purged with the history."""

    weights = models.JSONField(default=default_weights)
    lead_days = models.PositiveIntegerField(default=3)
    deal_days = models.PositiveIntegerField(default=14)
    # Local time (portal time zone) of the daily forgotten-deals digest; null = off.
    digest_at = models.TimeField(null=True, blank=True)
    digest_sent_on = models.DateField(null=True, blank=True)
    # {rule: on}; a rule missing from the map is on (a rule added later starts switched on).
    quality_rules = models.JSONField(default=default_quality_rules)
    # Whether "Notify" and the daily digest add each employee's data-quality errors.
    quality_in_notify = models.BooleanField(default=False)
    # Gross margin % for the marketing report's ROI; null = unset (ROI is hidden).
    gross_margin = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    # Who takes part in the sales reports (CRM ids); both empty = whoever sells.
    participant_departments = models.JSONField(default=list, blank=True)
    participant_employees = models.JSONField(default=list, blank=True)
    # The stage each pipeline's "reached the stage" plan counts entries into (e.g. a booking):
    # {pipeline CRM id as text: stage CRM id}; a pipeline missing from the map counts none.
    plan_stages = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["portal"], name="reportsettings_portal")]

    @classmethod
    def of(cls, portal) -> ReportSettings:
        return remembered(
            ("settings", portal.pk),
            lambda: cls.objects.for_portal(portal).get_or_create(portal=portal)[0],
        )

    def quality_rules_enabled(self) -> list[str]:
        return [rule for rule in QUALITY_RULES if self.quality_rules.get(rule, True)]


ALL_PIPELINES = -1  # a plan for every pipeline together (a default pipeline may be 0)


class PlanMetric(models.TextChoices):
    """What a plan targets: the sales (money and count, the only ones with bonuses) and
    the activity that makes them (REPORTS.md "Activity plan")."""

    WON_SUM = "won_sum", "won_sum"
    WON_COUNT = "won_count", "won_count"
    DEALS_CREATED = "deals_created", "deals_created"
    CALLS = "calls", "calls"
    MEETINGS = "meetings", "meetings"
    # Deals entering the stage the admin names for their pipeline (ReportSettings.plan_stages).
    STAGE_REACHED = "stage_reached", "stage_reached"


# The plan metrics that belong to no pipeline (activities), and those a bonus can pay on.
UNPIPELINED_METRICS = (PlanMetric.CALLS, PlanMetric.MEETINGS)
BONUS_METRICS = (PlanMetric.WON_SUM, PlanMetric.WON_COUNT)


class PlanLevel(models.TextChoices):
    EMPLOYEE = "employee", "employee"
    DEPARTMENT = "department", "department"


PLAN_KEY = ("month", "level", "target_crm_id", "pipeline_crm_id", "metric")


class Plan(PortalOwned):
    """A month's target for an employee or a department, in one pipeline or all of them.
    `value` is in cents for the won sum (exact on every database) and a count otherwise.
    A department without a row of its own plans the sum of its employees'. User-entered:
    never purged with the history."""

    month = models.DateField()  # the month's first day
    level = models.CharField(max_length=10, choices=PlanLevel.choices)
    target_crm_id = models.BigIntegerField()
    pipeline_crm_id = models.BigIntegerField(default=ALL_PIPELINES)
    metric = models.CharField(max_length=24, choices=PlanMetric.choices)
    value = models.BigIntegerField()
    updated_by_crm_id = models.BigIntegerField(null=True)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["portal", *PLAN_KEY], name="plan_key")]


class PlanChange(PortalOwned):
    """Who changed which plan cell, when, from what to what (null = no plan)."""

    month = models.DateField()
    level = models.CharField(max_length=10, choices=PlanLevel.choices)
    target_crm_id = models.BigIntegerField()
    pipeline_crm_id = models.BigIntegerField(default=ALL_PIPELINES)
    metric = models.CharField(max_length=24, choices=PlanMetric.choices)
    old_value = models.BigIntegerField(null=True)
    new_value = models.BigIntegerField(null=True)
    changed_by_crm_id = models.BigIntegerField(null=True)
    changed_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["portal", "changed_at"], name="planchange_time")]


class ReachUnit(models.TextChoices):
    """What a bonus tier's threshold is: an amount of the fact, or a % of the plan (a head
    who typed 100 / 120 / 150 as amounts paid a seller at 182 % of plan nothing)."""

    FACT = "fact", "fact"
    PERCENT = "percent", "percent"


class BonusRule(PortalOwned):
    """The bonus of one plan metric: tiers [{"reach": threshold, "bonus": money}] (the
    highest tier reached counts) and a completion % below which there is no bonus."""

    metric = models.CharField(max_length=10, choices=[(m, m) for m in BONUS_METRICS])
    min_completion = models.DecimalField(max_digits=6, decimal_places=2, default=0)
    reach_unit = models.CharField(max_length=8, choices=ReachUnit.choices, default=ReachUnit.FACT)
    # reach: cents (won sum) or a count (won count), or hundredths of a % of the plan;
    # bonus: cents. Sorted by reach.
    tiers = models.JSONField(default=list)
    updated_by_crm_id = models.BigIntegerField(null=True)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["portal", "metric"], name="bonus_metric")]


class TvLink(PortalOwned):
    """A secret link to the read-only sales-floor screen; works until revoked."""

    token = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=100, blank=True, default="")
    created_by_crm_id = models.BigIntegerField(null=True)
    created_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)


class AdSpend(PortalOwned):
    """Ad spend entered for one source (its CRM id, "" = no source) and calendar month, in
    cents. User-entered: never purged with the history."""

    month = models.DateField()  # the month's first day
    source_crm_id = models.CharField(max_length=64, default="", blank=True)
    amount_cents = models.BigIntegerField()
    updated_by_crm_id = models.BigIntegerField(null=True)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["portal", "month", "source_crm_id"], name="adspend_key")
        ]


class AdSpendChange(PortalOwned):
    """Who changed which spend cell, when, from what to what (null = none), in cents."""

    month = models.DateField()
    source_crm_id = models.CharField(max_length=64, default="", blank=True)
    old_cents = models.BigIntegerField(null=True)
    new_cents = models.BigIntegerField(null=True)
    changed_by_crm_id = models.BigIntegerField(null=True)
    changed_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["portal", "changed_at"], name="adspendchange_time")]
