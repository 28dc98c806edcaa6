"""The canonical mirror of a CRM account: the same shape for every CRM.

Rows are keyed by (portal, CRM id); the CRM's ids are what users, URLs and the CLI speak.
Indexes follow the metric definitions in DESIGN.md: period scans on win/close/activity times,
"open now" scans by last touch, and per-entity stage history.
"""

from __future__ import annotations

from django.db import models

from crmapp.scoping import PortalOwned


class Semantic(models.TextChoices):
    OPEN = "open", "open"
    WON = "won", "won"
    LOST = "lost", "lost"


OPEN = models.Q(semantic=Semantic.OPEN)
# What the forgotten report reads of open deals (the covering index includes them).
FORGOTTEN_DEAL_COLUMNS = ["id", "crm_id", "responsible", "pipeline", "last_touch_at",
                          "has_next_step", "amount"]  # fmt: skip
# What the data-quality rules read of the checked deals (open, or closed in a period), so
# the report scans this index alone instead of the wide deal rows.
QUALITY_DEAL_COLUMNS = ["id", "crm_id", "responsible", "pipeline", "amount", "company_crm_id",
                        "contact_crm_id", "source", "close_date", "has_next_step"]  # fmt: skip
# What the sales dynamics read of a period's deals (created in it, or closed in it): their
# stage now, amount and age, from the creation index and the closing (quality) index alone.
PERIOD_DEAL_COLUMNS = ["id", "crm_id", "responsible", "pipeline", "stage", "amount",
                       "created_at", "closed_at", "semantic"]  # fmt: skip
# How long a closed deal took (its close − its creation). Its age never changes again, so an
# index holds the period's closed deals longest (or shortest) first; an open deal's age
# (now − creation) is the creation order, which the creation index holds.
DEAL_DURATION = models.ExpressionWrapper(
    models.F("closed_at") - models.F("created_at"), output_field=models.DurationField()
)


class EntityType(models.TextChoices):
    LEAD = "lead", "lead"
    DEAL = "deal", "deal"
    CONTACT = "contact", "contact"
    COMPANY = "company", "company"


def _unique_crm_id(model: str, *extra: str) -> list[models.UniqueConstraint]:
    return [
        models.UniqueConstraint(fields=["portal", *extra, "crm_id"], name=f"{model}_unique_crm_id")
    ]


class Department(PortalOwned):
    crm_id = models.BigIntegerField()
    name = models.CharField(max_length=255)
    sort = models.IntegerField(default=500)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL)
    head = models.ForeignKey(
        "crmapp.Employee", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = _unique_crm_id("department")

    def __str__(self) -> str:
        return self.name


class Employee(PortalOwned):
    crm_id = models.BigIntegerField()
    name = models.CharField(max_length=255)
    email = models.CharField(max_length=255, blank=True, default="")
    active = models.BooleanField(default=True)
    # The first department the CRM lists for the user; reports group by it.
    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.SET_NULL, related_name="employees"
    )

    class Meta:
        constraints = _unique_crm_id("employee")

    def __str__(self) -> str:
        return self.name


class Pipeline(PortalOwned):
    crm_id = models.BigIntegerField()
    name = models.CharField(max_length=255)
    sort = models.IntegerField(default=500)
    is_default = models.BooleanField(default=False)

    class Meta:
        constraints = _unique_crm_id("pipeline")

    def __str__(self) -> str:
        return self.name


class Stage(PortalOwned):
    """A deal stage (per pipeline) or a lead status (no pipeline)."""

    entity_type = models.CharField(max_length=8, choices=EntityType.choices)
    crm_id = models.CharField(max_length=64)
    pipeline = models.ForeignKey(Pipeline, null=True, blank=True, on_delete=models.CASCADE)
    name = models.CharField(max_length=255)
    sort = models.IntegerField(default=500)
    semantic = models.CharField(max_length=8, choices=Semantic.choices, default=Semantic.OPEN)
    color = models.CharField(max_length=16, blank=True, default="")

    class Meta:
        constraints = _unique_crm_id("stage", "entity_type")
        ordering = ["sort"]

    def __str__(self) -> str:
        return self.name


class Source(PortalOwned):
    """Where a lead or deal came from (the CRM's list of sources)."""

    crm_id = models.CharField(max_length=64)
    name = models.CharField(max_length=255)

    class Meta:
        constraints = _unique_crm_id("source")

    def __str__(self) -> str:
        return self.name


class Utm(models.Model):
    utm_source = models.CharField(max_length=255, blank=True, default="")
    utm_medium = models.CharField(max_length=255, blank=True, default="")
    utm_campaign = models.CharField(max_length=255, blank=True, default="")
    utm_content = models.CharField(max_length=255, blank=True, default="")
    utm_term = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        abstract = True


class Lead(PortalOwned, Utm):
    crm_id = models.BigIntegerField()
    title = models.CharField(max_length=255, blank=True, default="")
    status = models.ForeignKey(Stage, null=True, blank=True, on_delete=models.SET_NULL)
    # open | won (converted into a deal) | lost (junk), from the status semantics.
    semantic = models.CharField(max_length=8, choices=Semantic.choices, default=Semantic.OPEN)
    responsible = models.ForeignKey(Employee, null=True, blank=True, on_delete=models.SET_NULL)
    source = models.CharField(max_length=64, blank=True, default="")
    amount = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, blank=True, default="")
    created_at = models.DateTimeField()
    modified_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    # The CRM's time of the last status change (MOVED_TIME), known even beyond our history.
    moved_at = models.DateTimeField(null=True, blank=True)
    last_touch_at = models.DateTimeField()

    class Meta:
        constraints = _unique_crm_id("lead")
        indexes = [
            models.Index(fields=["portal", "created_at"], name="lead_created"),
            # The forgotten report scans the open ones created in a period; on PostgreSQL
            # the included columns answer it from the index alone (SQLite ignores them).
            models.Index(
                fields=["portal", "created_at"],
                include=["id", "crm_id", "responsible", "last_touch_at"],
                condition=OPEN,
                name="lead_open_created",
            ),
            models.Index(fields=["portal", "semantic", "last_touch_at"], name="lead_open_touch"),
            models.Index(fields=["portal", "responsible", "created_at"], name="lead_resp_created"),
        ]

    def __str__(self) -> str:
        return self.title or f"#{self.crm_id}"


class Deal(PortalOwned, Utm):
    crm_id = models.BigIntegerField()
    title = models.CharField(max_length=255, blank=True, default="")
    pipeline = models.ForeignKey(Pipeline, null=True, blank=True, on_delete=models.SET_NULL)
    stage = models.ForeignKey(Stage, null=True, blank=True, on_delete=models.SET_NULL)
    # Denormalised from the stage so period scans need no join.
    semantic = models.CharField(max_length=8, choices=Semantic.choices, default=Semantic.OPEN)
    amount = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, blank=True, default="")
    responsible = models.ForeignKey(Employee, null=True, blank=True, on_delete=models.SET_NULL)
    company_crm_id = models.BigIntegerField(null=True, blank=True)
    contact_crm_id = models.BigIntegerField(null=True, blank=True)
    lead_crm_id = models.BigIntegerField(null=True, blank=True)
    source = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField()
    modified_at = models.DateTimeField()
    # The CRM's expected close date, not the time it was closed.
    close_date = models.DateTimeField(null=True, blank=True)
    # The latest entry into the current won/lost stage, from the stage history; null while open.
    closed_at = models.DateTimeField(null=True, blank=True)
    # The CRM's time of the last stage change (MOVED_TIME), known even beyond our history.
    moved_at = models.DateTimeField(null=True, blank=True)
    last_touch_at = models.DateTimeField()
    has_next_step = models.BooleanField(default=False)

    class Meta:
        constraints = _unique_crm_id("deal")
        indexes = [
            models.Index(fields=["portal", "semantic", "closed_at"], name="deal_closed"),
            models.Index(
                fields=["portal", "created_at"],
                include=[c for c in PERIOD_DEAL_COLUMNS if c != "created_at"],
                name="deal_created",
            ),
            models.Index(
                fields=["portal", "created_at"],
                include=FORGOTTEN_DEAL_COLUMNS,
                condition=OPEN,
                name="deal_open_created",
            ),
            models.Index(fields=["portal", "semantic", "last_touch_at"], name="deal_open_touch"),
            models.Index(
                models.F("portal"),
                DEAL_DURATION,
                include=["id", "crm_id", "created_at", "responsible", "pipeline", "semantic"],
                condition=models.Q(closed_at__isnull=False),
                name="deal_duration",
            ),
            # The marketing UTM tree's won deals of a period, by their own source and UTM.
            models.Index(
                fields=["portal", "closed_at"],
                include=[
                    "id",
                    "amount",
                    "responsible",
                    "pipeline",
                    "source",
                    "utm_source",
                    "utm_medium",
                    "utm_campaign",
                ],
                condition=models.Q(semantic=Semantic.WON),
                name="deal_won",
            ),
            models.Index(
                fields=["portal", "semantic", "closed_at"],
                include=list(dict.fromkeys([*QUALITY_DEAL_COLUMNS, "stage", "created_at"])),
                name="deal_quality",
            ),
            models.Index(fields=["portal", "responsible", "semantic"], name="deal_resp_semantic"),
            models.Index(fields=["portal", "company_crm_id", "closed_at"], name="deal_company"),
            models.Index(fields=["portal", "contact_crm_id", "closed_at"], name="deal_contact"),
            models.Index(fields=["portal", "modified_at"], name="deal_modified"),
            # The marketing cohort: the won deals of a period's received leads.
            models.Index(
                fields=["portal", "lead_crm_id"],
                condition=models.Q(lead_crm_id__isnull=False),
                name="deal_lead",
            ),
        ]

    def __str__(self) -> str:
        return self.title or f"#{self.crm_id}"


class Activity(PortalOwned):
    class Kind(models.TextChoices):
        CALL = "call", "call"
        MEETING = "meeting", "meeting"
        EMAIL = "email", "email"
        TASK = "task", "task"
        OTHER = "other", "other"

    crm_id = models.BigIntegerField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    subject = models.CharField(max_length=255, blank=True, default="")
    responsible = models.ForeignKey(Employee, null=True, blank=True, on_delete=models.SET_NULL)
    owner_type = models.CharField(max_length=8, choices=EntityType.choices)
    owner_crm_id = models.BigIntegerField()
    created_at = models.DateTimeField()
    deadline = models.DateTimeField(null=True, blank=True)
    completed = models.BooleanField(default=False)
    # When a completed activity "happens" (its end or completion time: each CRM's normalize).
    completed_at = models.DateTimeField(null=True, blank=True)
    # Its lead or deal (as owner_type says) to join in a query, neither a column nor a
    # constraint: an activity may come before its owner, or outlive it.
    owner_lead = models.ForeignObject(
        Lead, on_delete=models.DO_NOTHING, from_fields=["portal", "owner_crm_id"],
        to_fields=["portal", "crm_id"], related_name="+", null=True,
    )  # fmt: skip
    owner_deal = models.ForeignObject(
        Deal, on_delete=models.DO_NOTHING, from_fields=["portal", "owner_crm_id"],
        to_fields=["portal", "crm_id"], related_name="+", null=True,
    )  # fmt: skip

    class Meta:
        constraints = _unique_crm_id("activity")
        indexes = [
            models.Index(fields=["portal", "completed_at"], name="activity_completed"),
            models.Index(fields=["portal", "responsible", "completed_at"], name="activity_resp"),
            models.Index(fields=["portal", "owner_type", "owner_crm_id"], name="activity_owner"),
        ]

    def __str__(self) -> str:
        return self.subject or f"#{self.crm_id}"


class StageChange(PortalOwned):
    """One entry of a lead's or deal's stage history."""

    class Kind(models.IntegerChoices):
        CREATED = 1, "created"
        MOVED = 2, "moved to an intermediate stage"
        CLOSED = 3, "moved to a final stage"
        PIPELINE_CHANGED = 5, "pipeline changed"

    crm_id = models.CharField(max_length=64)
    entity_type = models.CharField(max_length=8, choices=EntityType.choices)
    owner_crm_id = models.BigIntegerField()
    kind = models.PositiveSmallIntegerField(choices=Kind.choices)
    pipeline_crm_id = models.BigIntegerField(null=True, blank=True)
    stage_crm_id = models.CharField(max_length=64)
    semantic = models.CharField(max_length=8, choices=Semantic.choices)
    changed_at = models.DateTimeField()

    class Meta:
        constraints = _unique_crm_id("stagechange", "entity_type")
        indexes = [
            models.Index(
                fields=["portal", "entity_type", "owner_crm_id", "changed_at"],
                name="stagechange_owner",
            ),
            models.Index(fields=["portal", "changed_at"], name="stagechange_time"),
        ]
