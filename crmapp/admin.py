from __future__ import annotations

from django.contrib import admin

from crmapp.models import Portal


@admin.register(Portal)
class PortalAdmin(admin.ModelAdmin):
    list_display = ("key", "kind", "status", "tier", "tier_until", "import_phase", "data_as_of")
    list_filter = ("kind", "status", "tier")
    search_fields = ("key", "domain", "member_id")
    fields = ("kind", "key", "domain", "member_id", "status", "tier", "tier_until", "time_zone")
    readonly_fields = ("kind", "key", "domain", "member_id")

    def get_queryset(self, request):
        return Portal.objects.all()
