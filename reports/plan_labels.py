"""The plan metrics in words, as the page, the board and the exports name them."""

from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext as _

from crmapp.models import Stage
from reports.labels import column_label
from reports.models import PlanMetric, ReportSettings


def plan_metric_labels(portal) -> dict[str, str]:
    """Each plan metric in words; the stage metric by the stages it counts ("Reached: Booking")
    once the admin has named them."""
    labels = {metric: str(column_label(metric)) for metric in PlanMetric.values}
    named = ReportSettings.of(portal).plan_stages
    if named:
        wanted = Q(pk__in=[])
        for pipeline, stage in named.items():
            wanted |= Q(pipeline__crm_id=int(pipeline), crm_id=stage)
        stages = Stage.objects.for_portal(portal).filter(wanted, entity_type="deal")
        names = sorted({name for name in stages.values_list("name", flat=True)})
        if names:
            labels[PlanMetric.STAGE_REACHED] = _("Reached: %(stages)s") % {
                "stages": ", ".join(names)
            }
    return labels
