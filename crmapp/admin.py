from __future__ import annotations

from django.contrib import admin
from django.db import transaction

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

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "time_zone" in form.changed_data:
            from reports.tasks import portal_facts_rebuild

            # Days are the portal's days: another time zone re-buckets every aggregate.
            transaction.on_commit(lambda: portal_facts_rebuild.delay(obj.pk))
