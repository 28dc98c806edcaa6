from __future__ import annotations

from django.contrib import admin
from django.db import transaction
from django.utils import timezone

from crmapp.hooks import portal_history_window_grew, portal_time_zone_changed
from crmapp.models import InstallRecord, Portal
from crmapp.tiers import portal_tier, window_grows


@admin.register(Portal)
class PortalAdmin(admin.ModelAdmin):
    list_display = (
        "key", "kind", "status", "tier_now", "tier", "tier_until", "tier_override",
        "tier_override_until", "import_phase", "data_as_of",
    )  # fmt: skip
    list_filter = ("kind", "status", "tier", "tier_override")
    search_fields = ("key", "domain", "member_id")
    fields = (
        "kind", "key", "domain", "member_id", "status", "trial_started_at", "tier", "tier_until",
        "tier_override", "tier_override_until", "history_months", "time_zone",
    )  # fmt: skip
    # The paid state comes from the CRM (read daily); an operator sets the override instead.
    readonly_fields = (
        "kind", "key", "domain", "member_id", "trial_started_at", "tier", "tier_until",
        "history_months",
    )  # fmt: skip

    def get_queryset(self, request):
        return Portal.objects.all()

    @admin.display(description="tier in force")
    def tier_now(self, obj: Portal) -> str:
        return portal_tier(obj, now=timezone.now())

    def save_model(self, request, obj, form, change):
        if not obj.tier_override:
            obj.tier_override_until = None
        super().save_model(request, obj, form, change)
        if change and "time_zone" in form.changed_data:
            # Days are the portal's days: another time zone re-buckets every aggregate.
            transaction.on_commit(lambda: portal_time_zone_changed.send(sender=Portal, portal=obj))
        if change and window_grows(obj, now=timezone.now()):
            # An override that keeps more history: import it (shrinking waits for the purge).
            transaction.on_commit(
                lambda: portal_history_window_grew.send(sender=Portal, portal=obj)
            )


@admin.register(InstallRecord)
class InstallRecordAdmin(admin.ModelAdmin):
    """First installs: what keeps a reinstall from restarting the trial."""

    list_display = ("kind", "member_id", "first_installed_at")
    search_fields = ("member_id",)
    readonly_fields = ("kind", "member_id")
