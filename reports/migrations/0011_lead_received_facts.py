"""Count the marketing report's `lead_received` aggregate for the leads the aggregates
already hold (new writes add it themselves). Uses the product's own contribution function
on purpose: the fact must be exactly what the writer would have stored."""

from __future__ import annotations

from django.db import migrations

CHUNK = 5000


def lead_received_backfill(apps, schema_editor):
    from crmapp.models import Lead, Portal
    from reports.aggregates import _tracked, facts_add, facts_of

    for portal in Portal.objects.all():
        ids = Lead.objects.for_portal(portal).order_by("crm_id").values_list("crm_id", flat=True)
        after = 0
        while chunk := list(ids.filter(crm_id__gt=after)[:CHUNK]):
            after = chunk[-1]
            tracked = _tracked(portal, {"lead": set(chunk)}).get("lead")
            if not tracked:
                continue
            facts = facts_of(portal, {"lead": tracked})
            received = {key: values for key, values in facts.items() if key[1] == "lead_received"}
            facts_add(portal, received, prune=False)


class Migration(migrations.Migration):
    dependencies = [("reports", "0010_ad_spend_and_gross_margin"), ("crmapp", "0003_open_by_creation")]

    operations = [migrations.RunPython(lead_received_backfill, migrations.RunPython.noop)]
