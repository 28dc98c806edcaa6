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

NO_EMPLOYEE = 0
NO_PIPELINE = -1  # Bitrix24's default pipeline has id 0


FACT_KEY = (
    "day",
    "metric",
    "employee_crm_id",
    "pipeline_crm_id",
    "source_crm_id",
    "stage_crm_id",
)


class DayFact(PortalOwned):
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
    day = models.DateField()
    metric = models.CharField(max_length=24)
    employee_crm_id = models.BigIntegerField(default=NO_EMPLOYEE)
    pipeline_crm_id = models.BigIntegerField(default=NO_PIPELINE)
    source_crm_id = models.CharField(max_length=64, default="")
    stage_crm_id = models.CharField(max_length=64, default="")
    qty = models.BigIntegerField(default=0)
    amount_cents = models.BigIntegerField(default=0)
    seconds = models.BigIntegerField(default=0)

    KEY = FACT_KEY

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["portal", *FACT_KEY], name="dayfact_unique_key")
        ]
        indexes = [
            models.Index(fields=["portal", "metric", "day"], name="dayfact_metric_day"),
        ]


MONTH_KEY = ("month", *FACT_KEY[1:])


class MonthFact(PortalOwned):
    """DayFact summed by calendar month (`month` is its first day), written with every
    DayFact delta in the same transaction. A year's report reads a dozen months here instead
    of 365 days of rows; only a period's ragged edges come from DayFact."""

    portal = models.ForeignKey(
        "crmapp.Portal",
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    month = models.DateField()
    metric = models.CharField(max_length=24)
    employee_crm_id = models.BigIntegerField(default=NO_EMPLOYEE)
    pipeline_crm_id = models.BigIntegerField(default=NO_PIPELINE)
    source_crm_id = models.CharField(max_length=64, default="")
    stage_crm_id = models.CharField(max_length=64, default="")
    qty = models.BigIntegerField(default=0)
    amount_cents = models.BigIntegerField(default=0)
    seconds = models.BigIntegerField(default=0)

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


class ReportSettings(PortalOwned):
    """What a portal's admin tunes: activity weights, forgotten thresholds, the daily digest.
    User-entered, so never purged with the history."""

    weights = models.JSONField(default=default_weights)
    lead_days = models.PositiveIntegerField(default=3)
    deal_days = models.PositiveIntegerField(default=14)
    # Local time (portal time zone) of the daily forgotten-deals digest; null = off.
    digest_at = models.TimeField(null=True, blank=True)
    digest_sent_on = models.DateField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["portal"], name="reportsettings_portal")]

    @classmethod
    def of(cls, portal) -> ReportSettings:
        return cls.objects.for_portal(portal).get_or_create(portal=portal)[0]
