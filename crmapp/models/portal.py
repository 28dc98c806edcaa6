"""One installation of the app in one CRM account."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from crmapp.fields import EncryptedTextField
from crmapp.scoping import PortalOwned


class Portal(models.Model):
    class Kind(models.TextChoices):
        BITRIX24 = "bitrix24", "Bitrix24"
        AMOCRM = "amocrm", "amoCRM"

    class Status(models.TextChoices):
        ACTIVE = "active", "active"
        NEEDS_REAUTH = "needs_reauth", "needs re-authorisation"
        UNINSTALLED = "uninstalled", "uninstalled"

    class CrmState(models.TextChoices):
        """What the CRM itself says of the account, beside our own status: it answers, it
        wants payment (amoCRM 402), or it has blocked API access (amoCRM 403)."""

        OK = "", "answers"
        UNPAID = "unpaid", "CRM account unpaid"
        BLOCKED = "blocked", "CRM API access blocked"

    class Tier(models.TextChoices):
        TRIAL = "trial", "trial"
        BASIC = "basic", "basic"
        SUBSCRIPTION_12 = "subscription-12", "subscription, 12 months"
        SUBSCRIPTION_24 = "subscription-24", "subscription, 24 months"

    class ImportPhase(models.TextChoices):
        PENDING = "pending", "pending"
        RUNNING = "running", "running"
        DONE = "done", "done"
        FAILED = "failed", "failed"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    # The CRM account's address: a portal domain or an account subdomain. `manage.py report
    # --portal KEY`.
    key = models.CharField(max_length=255)
    domain = models.CharField(max_length=255)
    # The CRM's own stable identity of the account (its member or account id).
    member_id = models.CharField(max_length=64)

    access_token = EncryptedTextField(blank=True, default="")
    refresh_token = EncryptedTextField(blank=True, default="")
    token_expires_at = models.DateTimeField(null=True, blank=True)
    # For a CRM that signs nothing, events are verified by this per-installation secret.
    application_token = EncryptedTextField(blank=True, default="")
    client_endpoint = models.URLField(blank=True, default="")

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    installed_at = models.DateTimeField(auto_now_add=True)
    uninstalled_at = models.DateTimeField(null=True, blank=True)
    purge_after = models.DateTimeField(null=True, blank=True)
    crm_state = models.CharField(max_length=16, choices=CrmState.choices, blank=True, default="")
    # When the CRM last refused us: requests wait CRM_STATE_PROBE after it before a new try.
    crm_state_at = models.DateTimeField(null=True, blank=True)

    # The paid state the CRM reports (adapter.paid_state): trial/basic = not paid, or a
    # subscription until `tier_until`. What is in force now is crmapp.tiers.portal_tier.
    tier = models.CharField(max_length=16, choices=Tier.choices, default=Tier.TRIAL)
    # The first install of this CRM account (InstallRecord): a reinstall keeps it.
    trial_started_at = models.DateTimeField(default=timezone.now)
    tier_until = models.DateTimeField(null=True, blank=True)
    # An operator's override (Django admin, `manage.py portal_tier`): wins until its date.
    tier_override = models.CharField(max_length=16, choices=Tier.choices, blank=True, default="")
    tier_override_until = models.DateTimeField(null=True, blank=True)
    # How many months back the mirror holds now (set by the import, lowered by the purge);
    # a tier whose window is longer makes the history be backfilled.
    history_months = models.PositiveSmallIntegerField(default=0)

    time_zone = models.CharField(max_length=64, default="Europe/Moscow")
    language = models.CharField(max_length=8, default="ru")
    currency = models.CharField(max_length=3, default="RUB")

    import_phase = models.CharField(
        max_length=16, choices=ImportPhase.choices, default=ImportPhase.PENDING
    )
    import_step = models.CharField(max_length=32, blank=True, default="")
    import_done = models.PositiveBigIntegerField(default=0)
    import_total = models.PositiveBigIntegerField(default=0)
    import_started_at = models.DateTimeField(null=True, blank=True)
    import_finished_at = models.DateTimeField(null=True, blank=True)
    import_error = models.TextField(blank=True, default="")
    # Last time the import moved; a running import that stops moving is re-enqueued.
    import_beat_at = models.DateTimeField(null=True, blank=True)
    # Where a resumable import continues after a killed worker: {"step": ..., "last_id": ...}.
    import_cursor = models.JSONField(default=dict, blank=True)
    # Reconciliation re-reads what changed in the CRM since this moment (lost events).
    reconciled_at = models.DateTimeField(null=True, blank=True)
    # Time of the last change applied to the mirror ("data as of").
    data_as_of = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "member_id"], name="portal_unique_member"),
            models.UniqueConstraint(fields=["kind", "key"], name="portal_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.key}"


class InstallRecord(models.Model):
    """The first install of a CRM account: it outlives the Portal (deleted with its data on
    an uninstall with CLEAN=1 or after the retention), so a reinstall does not restart the trial."""

    kind = models.CharField(max_length=16, choices=Portal.Kind.choices)
    member_id = models.CharField(max_length=64)
    first_installed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "member_id"], name="installrecord_unique")
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.member_id}"


class ImportLane(PortalOwned):
    """One entity type's last leg of a history import, once every source is in: its derived
    fields, then its share of the aggregates, chunk by chunk up from `after_id`.

    Each type is its own row, so the lanes run side by side in separate workers without the
    portal row; a mirror write of the portal locks every lane (after the portal row, in type
    order), so a write and a lane's chunk never interleave.
    """

    class Step(models.TextChoices):
        DERIVE = "derive", "deriving fields"
        FACTS = "facts", "counting aggregates"
        DONE = "done", "done"

    run = models.CharField(max_length=32)
    entity_type = models.CharField(max_length=16)
    step = models.CharField(max_length=16, choices=Step.choices)
    after_id = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["portal", "entity_type"], name="importlane_unique")
        ]

    def __str__(self) -> str:
        return f"{self.entity_type}: {self.step} after {self.after_id}"
