"""The durable inbox: every accepted CRM event is a row before it is acknowledged."""

from __future__ import annotations

from django.db import models

from crmapp.fields import EncryptedTextField
from crmapp.scoping import PortalOwned


class InboundEvent(PortalOwned):
    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        PROCESSING = "processing", "processing"
        DONE = "done", "done"
        DEAD = "dead", "dead letter"

    # sha256 of the raw body: a redelivered duplicate lands on the same row.
    key = models.CharField(max_length=64)
    name = models.CharField(max_length=64)
    entity_type = models.CharField(max_length=16, blank=True, default="")
    action = models.CharField(max_length=8, blank=True, default="")
    entity_id = models.BigIntegerField(null=True, blank=True)
    # The request body as received; it carries tokens, so it is encrypted like them.
    body = EncryptedTextField()
    received_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["portal", "key"], name="inboundevent_unique_key")
        ]
        indexes = [
            models.Index(fields=["portal", "status", "next_attempt_at"], name="inbox_due"),
            models.Index(fields=["status", "next_attempt_at"], name="inbox_sweep"),
        ]
