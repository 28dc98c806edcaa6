from __future__ import annotations

from django.contrib import admin

from webhooks.models import InboundEvent


@admin.register(InboundEvent)
class InboundEventAdmin(admin.ModelAdmin):
    """The inbox as an operator sees it: what is pending, what failed and why (dead letters)."""

    list_display = (
        "received_at",
        "portal",
        "name",
        "entity_id",
        "status",
        "attempts",
        "last_error",
    )
    list_filter = ("status", "name")
    search_fields = ("portal__key", "entity_id")
    exclude = ("body",)
    readonly_fields = [field.name for field in InboundEvent._meta.fields if field.name != "body"]

    def get_queryset(self, request):
        return InboundEvent.all_portals.select_related("portal")

    def has_add_permission(self, request):
        return False
