from __future__ import annotations

from django.contrib import admin

from reports.models import AdSpendChange, FactCheck, PlanChange


@admin.register(FactCheck)
class FactCheckAdmin(admin.ModelAdmin):
    """Self-checks of the aggregates: a row with mismatches is a bug to look into."""

    list_display = ("checked_at", "portal", "ok", "mismatch_count")
    readonly_fields = ("portal", "checked_at", "days", "mismatches")

    def get_queryset(self, request):
        return FactCheck.all_portals.select_related("portal")

    @admin.display(description="mismatches")
    def mismatch_count(self, check: FactCheck) -> int:
        return len(check.mismatches)

    @admin.display(boolean=True)
    def ok(self, check: FactCheck) -> bool:
        return check.ok

    def has_add_permission(self, request):
        return False


@admin.register(PlanChange)
class PlanChangeAdmin(admin.ModelAdmin):
    """Who changed which plan cell and when (values: cents for sums, counts for counts)."""

    list_display = ("changed_at", "portal", "month", "level", "target_crm_id", "pipeline_crm_id",
                    "metric", "old_value", "new_value", "changed_by_crm_id")  # fmt: skip
    list_filter = ("metric", "level")

    def get_queryset(self, request):
        return PlanChange.all_portals.select_related("portal")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AdSpendChange)
class AdSpendChangeAdmin(admin.ModelAdmin):
    """Who changed which ad-spend cell and when (values in cents; empty = no spend)."""

    list_display = ("changed_at", "portal", "month", "source_crm_id", "old_cents", "new_cents",
                    "changed_by_crm_id")  # fmt: skip

    def get_queryset(self, request):
        return AdSpendChange.all_portals.select_related("portal")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
