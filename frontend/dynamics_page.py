"""What the sales dynamics page adds to a report page: its own parameters (the deals' sort
and age filter, the charted metric, the sales grain) and the charts' descriptions."""

from __future__ import annotations

import json

from django.utils import timezone
from django.utils.translation import gettext as _

from frontend.report_request import BadFilter
from frontend.templatetags.humanize_ru import period
from reports.dynamics import (
    DEAL_SORTS,
    EMPLOYEE_COLUMNS,
    PARTS,
    employees_part,
    period_list,
    stage_durations,
    stage_statistics,
)
from reports.efficiency import DYNAMICS
from reports.labels import column_label
from reports.models import NO_PIPELINE
from reports.scope import Scope

GRAINS = ("month", "year")
STAGE_BLOCK = "stage"  # a stage of the time in stages, opened to its employees
# The page's blocks: those below the fold (loaded when scrolled to) and an opened stage.
BLOCKS = (*PARTS, STAGE_BLOCK)
# The deals list's columns, the sortable ones with their sort key.
DEAL_HEADERS = [("title", "title"), ("responsible", ""), ("pipeline", ""), ("stage", ""),
                ("amount", "amount"), ("created", "created"), ("closed", "closed"),
                ("age_days", "age_days")]  # fmt: skip


def dynamics_options(query) -> dict:
    """The report's keyword arguments from the page's address; BadFilter if mistyped."""
    sort = query.get("sort") or "-age_days"
    if sort.removeprefix("-") not in DEAL_SORTS:
        raise BadFilter(_("Unknown column to sort by: %(value)r") % {"value": sort})
    metric = query.get("metric") or "won_sum"
    if metric not in DYNAMICS:
        raise BadFilter(_("Unknown metric or grain"))
    ages = {name: _days(query, name) for name in ("age_min", "age_max")}
    if None not in ages.values() and ages["age_min"] > ages["age_max"]:
        raise BadFilter(_("The minimum age is above the maximum."))
    return {"sort": sort, "metric": metric, **ages}


def _days(query, name: str) -> float | None:
    value = (query.get(name) or "").strip().replace(",", ".")
    if not value:
        return None
    try:
        days = float(value)
    except ValueError:
        days = -1.0
    if not days >= 0:
        message = _("%(name)s must be a number of days ≥ 0, not %(value)r")
        raise BadFilter(message % {"name": column_label(name), "value": value})
    return days


def dynamics_context(query, data: dict) -> dict:
    grain = query.get("grain") or "month"
    if grain not in GRAINS:
        raise BadFilter(_("Unknown metric or grain"))
    sales = data["months"] if grain == "month" else data["years"]
    label = "month" if grain == "month" else "year"
    options = dynamics_options(query)
    return {
        "grain": grain,
        "sales": sales,
        "sales_label": label,
        "sales_chart": json.dumps(
            {
                "labels": [period(row[label]) for row in sales],
                "datasets": [
                    {
                        "label": str(_("Won, sum")),
                        "values": [r["won_sum"] for r in sales],
                        "type": "bar",
                    },
                    {
                        "label": str(_("A year before")),
                        "values": [r["won_sum_year_before"] for r in sales],
                        "type": "bar",
                    },
                ],
            }
        ),
        "metric": options["metric"],
        "long_chart": json.dumps(
            {
                "labels": [period(m["month"]) for m in data["long_cycles"]["months"]],
                "label": str(_("Long cycles, %")),
                "values": [m["share"] for m in data["long_cycles"]["months"]],
            }
        ),
        "age_min": query.get("age_min", ""),
        "age_max": query.get("age_max", ""),
        "durations": [
            (_("Deals"), "deal", data["durations"]["deal"]),
            (_("Leads"), "lead", data["durations"]["lead"]),
        ],
    }


def dynamics_block_context(request, scope: Scope, block: str, query, *, limit: int) -> dict:
    """One block of the page alone: the employees (all their rows, for the caller to page)
    with one metric's chart, the period's deals (their first `limit`, in the page's sort and
    age filter), the stage statistics, or a stage of the time in stages opened to its
    employees. `query` is the page's address builder."""
    now = timezone.now()
    if block == STAGE_BLOCK:
        return dynamics_stage_context(request.GET, scope)
    if block == "stages":
        stats = stage_statistics(scope, now=now)
        return {"pipelines_stages": _stages_by_pipeline(stats), "stage_totals": stats["totals"]}
    options = dynamics_options(request.GET)
    grain = request.GET.get("grain") or "month"
    if block == "employees":
        return _employees_context(scope, options["metric"], now=now) | {"grain": grain}
    ages = {key: options[key] for key in ("age_min", "age_max")}
    return {
        "data": period_list(scope, sort=options["sort"], now=now, limit=limit, **ages),
        "sort": options["sort"],
        "sort_query": query(request, sort=""),
        "deal_headers": [(key, column_label(key), sort) for key, sort in DEAL_HEADERS],
        "metric": options["metric"],
        "grain": grain,
    }


def _employees_context(scope: Scope, metric: str, *, now) -> dict:
    part = employees_part(scope, metric=metric, now=now)
    dynamics = part["employee_dynamics"]
    return {
        "employees": part["employees"],
        "employee_columns": [(key, column_label(key)) for key in EMPLOYEE_COLUMNS],
        "metric": metric,
        "dynamics_metrics": [(m, column_label(m)) for m in DYNAMICS],
        "chart": json.dumps(
            {
                "labels": [period(label) for label in dynamics["periods"]],
                "label": str(column_label(metric)),
                "values": dynamics["totals"],
            }
        ),
    }


def _stages_by_pipeline(stats: dict) -> list[tuple[dict, list[dict]]]:
    stages: dict[str, list[dict]] = {}
    for row in stats["stages"]:
        stages.setdefault(row["pipeline_id"], []).append(row)
    return [(pipeline, stages.get(pipeline["id"], [])) for pipeline in stats["pipelines"]]


def dynamics_stage_context(query, scope: Scope) -> dict:
    """One stage of the time in stages split into its employees: `entity` (deal or lead),
    `pipeline` (none for leads) and `stage`, as the stage's row names them."""
    entity, pipeline, stage = (query.get(key, "") for key in ("entity", "pipeline", "stage"))
    if entity not in ("deal", "lead") or not stage or (pipeline and not pipeline.isdigit()):
        raise BadFilter(_("Name the stage to open: deals or leads, the pipeline and the stage"))
    key = (int(pipeline) if pipeline else NO_PIPELINE, stage)
    rows = stage_durations(scope, entity, now=timezone.now(), stage=key)
    return {"entity": entity, "rows": rows}
