"""Count the marketing report's calls by their owner's source (`lead_calls`, `deal_calls`)
for the calls the aggregates already hold (new writes add them themselves). Uses the
product's own contribution function on purpose, as 0011 does: the fact must be exactly what
the writer would have stored."""

from __future__ import annotations

from django.db import migrations

CHUNK = 5000


def owner_calls_backfill(apps, schema_editor):
    from crmapp.models import Activity, Portal
    from reports.aggregates import _tracked, facts_add, facts_of
    from reports.metrics import OWNER_CALLS

    for portal in Portal.objects.all():
        calls = Activity.objects.for_portal(portal).filter(kind=Activity.Kind.CALL, completed=True)
        ids = calls.order_by("crm_id").values_list("crm_id", flat=True)
        after = 0
        while chunk := list(ids.filter(crm_id__gt=after)[:CHUNK]):
            after = chunk[-1]
            tracked = _tracked(portal, {"activity": set(chunk)}).get("activity")
            if not tracked:
                continue
            facts = facts_of(portal, {"activity": tracked})
            owned = {key: values for key, values in facts.items() if key[1] in OWNER_CALLS.values()}
            facts_add(portal, owned, prune=False)


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0012_plan_stage_reached"),
        ("crmapp", "0007_deal_lead_and_activity_owners"),
    ]

    operations = [migrations.RunPython(owner_calls_backfill, migrations.RunPython.noop)]
