"""The overview's figures as the page shows them: labelled, each with the address of the
report (and filters) it comes from."""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone

from crmapp.models import Portal
from reports.labels import column_label
from reports.overview import overview
from reports.plan_labels import plan_metric_labels
from reports.scope import Viewer


def overview_context(portal: Portal, viewer: Viewer, session_token: str) -> dict:
    data = overview(portal, viewer, now=timezone.now())
    labels = plan_metric_labels(portal)

    def link(report: str, **filters) -> str:
        query = {key: value for key, value in filters.items() if value not in (None, "")}
        return f"{reverse('report', args=[report])}?{urlencode(query | {'s': session_token})}"

    yesterday = {"period": "custom", "from": data["yesterday"], "to": data["yesterday"]}
    return data | {
        "day": [
            (labels[metric], figures, link("plan", metric=metric))
            for metric, figures in data["day"]
        ],
        "changes": [row | {"label": column_label(row["column"])} for row in data["changes"]],
        "links": {
            "plan_sum": link("plan"),
            "plan_count": link("plan", metric="won_count"),
            "today": link("efficiency", period="today"),
            "yesterday": link("efficiency", **yesterday),
            "forgotten": link("forgotten"),
            "quality": link("quality"),
            "activity": link("efficiency", sort="-activity_index"),
        },
        "employee_links": {
            row["id"]: link("plan", employee=row["id"])
            for row in data["completion"]["top"] + data["completion"]["bottom"]
        },
    }
