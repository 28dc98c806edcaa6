"""The plan report of the catalog (`manage.py report plan`, the API, the export): one row per
month × employee or department × pipeline (None = all) × metric."""

from __future__ import annotations

from reports.plan_fact import plan_fact
from reports.plan_numbers import ALL, METRICS, plan_figures
from reports.scope import Scope


def plan(scope: Scope) -> dict:
    """The report of `manage.py report plan`, the API and the export."""
    data = plan_fact(scope)
    rows = [
        {
            "month": month.strftime("%Y-%m"),
            "level": level,
            "id": str(crm_id),
            "pipeline_id": None if pipeline is ALL else str(pipeline),
            "metric": metric,
            **plan_figures(numbers, metric),
        }
        for month, level, crm_id, pipeline, numbers in data["entries"]
        for metric in METRICS
    ]
    return {
        "report": "plan",
        "from": scope.start.isoformat(),
        "to": scope.end.isoformat(),
        "rows": rows,
    }
