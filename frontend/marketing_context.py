"""What the marketing page adds to a report page's context: the blocks' rows with their
drill and filter links, the charts' descriptions and the dynamics by source."""

from __future__ import annotations

import json
from datetime import date, timedelta
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.translation import gettext as _

from frontend.report_request import SOURCE, BadFilter, viewer_of
from frontend.templatetags.humanize_ru import period
from reports.labels import column_label
from reports.marketing import (
    DYNAMICS_METRICS,
    PARTS,
    ROW_FIGURES,
    STATES,
    marketing_dynamics,
    marketing_margin,
    marketing_months,
    received_leads,
    stage_reach,
    status_matrix,
    top_sources,
    utm_tree,
)
from reports.marketing_tables import BLOCKS
from reports.plan_input import month_add
from reports.scope import UTM_FIELDS, Scope, scope_resolve, selection_token
from reports.sources import source_names

LEAD_COLUMNS = ("title", "source", "utm_source", "responsible", "status", "status_days",
                "idle_days", "no_next_step")  # fmt: skip
TILES = ("received", "closed", "conversion", "won_count", "won_sum", "cohort_revenue",
         "qualified", "unqualified", "processing_days", "new", "in_work")  # fmt: skip
COLORS = ("#2fc6f6", "#9dcf00", "#ff5752", "#ffa900", "#7a5af8", "#00b8a9", "#f7559e",
          "#3d8bfd", "#a0a8b1", "#6c4f3d", "#1f2d3d")  # fmt: skip


# The parts loaded on their own: a source's months when its "+" is clicked, the rest when
# scrolled to (a year's months were two fifths of the page, stage reach, the top five and
# UTM its slowest reads).
PAGE_BLOCKS = PARTS


def _columns(margin: float | None) -> list[tuple[str, str]]:
    return [(c, column_label(c)) for c in ROW_FIGURES if c != "roi" or margin is not None]


def _drill_base(request, query, **changes) -> str:
    """The drill-down's address under the page's filters, less those `changes` clear."""
    drill = reverse("report-drill", args=["marketing"])
    return f"{drill}?{query(request, session=False, **changes)}"


def _drill_source_base(request, query) -> str:
    return _drill_base(request, query, **{SOURCE: []})


def marketing_context(request, scope: Scope, data: dict, query) -> dict:
    """`query(request, session=..., **changes)` is the page's address builder; the
    PAGE_BLOCKS are left to `marketing_block_context`."""
    sources = [
        row | {"token": (token := selection_token(row["id"])),
               "filter_query": query(request, **{SOURCE: [token]}),
               "months_query": query(request, session=False, **{SOURCE: [token]}),
               "drill_params": "&" + urlencode({SOURCE: token})}
        for row in data["sources"]
    ]  # fmt: skip
    return {
        "columns": _columns(data["margin"]),
        "tiles": [(c, column_label(c), data["totals"][c]) for c in TILES],
        "sources": sources,
        "drill_source_base": _drill_source_base(request, query),
        "blocks": BLOCKS,
        "selected_sources": set(request.GET.getlist(SOURCE)),
        "utm_values": {name: request.GET.get(name, "") for name in UTM_FIELDS},
        "utm_fields": UTM_FIELDS,
        "lead_columns": [(c, column_label(c)) for c in LEAD_COLUMNS],
        "leads": _sorted_leads(request, data["leads"]),
        "lead_sort": request.GET.get("lsort") or "-status_days",
        "calls": _calls_pivot(scope, data["calls"]),
        "charts": _charts(data),
        "all_sources_query": query(request, **{SOURCE: []}),
        "lead_sort_query": query(request, lsort=""),
        "funnel_share": _share(data["funnel"]["won_count"], data["funnel"]["received"]),
        "calls_total": sum(row["calls"] for row in data["calls"]),
        **_dynamics(request, scope),
    }


def marketing_block_context(request, scope: Scope, block: str, query) -> dict:
    """One block of the page alone: a source's months (the scope's one source filter names
    it), stage reach, the top five, the UTM tree or the employee × status matrix."""
    if block == "matrix":
        matrix = status_matrix(scope, received_leads(scope))
        return {"matrix": matrix, "matrix_statuses": matrix["statuses"]}
    if block == "stages":
        return {"stages": stage_reach(scope, received_leads(scope))}
    if block == "top":
        top = top_sources(scope, source_names(scope.portal))
        return {
            "top": top,
            "top_chart": _top_chart(top),
            "drill_source_base": _drill_source_base(request, query),
        }
    if block == "utm":
        margin = marketing_margin(scope.portal)
        return {
            "utm_rows": [_utm_row(row) for row in utm_tree(scope, margin)],
            "columns": _columns(margin),
            "drill_utm_base": _drill_base(request, query, **dict.fromkeys(UTM_FIELDS, "")),
        }
    if scope.sources is None or len(scope.sources) != 1:
        raise BadFilter(_("Name the one source whose months to show"))
    margin = marketing_margin(scope.portal)
    months = [
        row | {"drill_params": _month_params(scope, row["month"], row["id"])}
        for row in marketing_months(scope, margin, source_names(scope.portal))
    ]
    return {
        "months": months,
        "source_token": selection_token(next(iter(scope.sources))),
        "columns": _columns(margin),
        "drill_source_base": _drill_source_base(request, query),
    }


def _utm_row(row: dict) -> dict:
    """A UTM tree row with its drill narrowing and its place among the rows it opens."""
    level = row["level"]
    return row | {
        "drill_params": "&"
        + urlencode(
            {name: selection_token(row[name]) for name in UTM_FIELDS if row[name] is not None}
        ),
        "key": "|".join(row[name] or "" for name in UTM_FIELDS[:level]),
        "parent": "|".join(row[name] or "" for name in UTM_FIELDS[: level - 1]),
    }


def _share(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 2) if whole else None


def _sorted_leads(request, leads: list[dict]) -> list[dict]:
    sort = request.GET.get("lsort") or "-status_days"
    column, descending = sort.removeprefix("-"), sort.startswith("-")
    if column not in LEAD_COLUMNS:
        raise BadFilter(_("Unknown column to sort by: %(value)r") % {"value": sort})

    def key(row: dict):
        value = row[column]
        return value.casefold() if isinstance(value, str) else value

    return sorted(leads, key=key, reverse=descending)


def _month_params(scope: Scope, month: str, source: str) -> str:
    """A drill link's narrowing to one month of the period (and one source): the same list
    with the period cut to the days of that month inside it."""
    first = date.fromisoformat(f"{month}-01")
    last = month_add(first, 1) - timedelta(days=1)
    period = {"period": "custom", "from": max(first, scope.start).isoformat(),
              "to": min(last, scope.end).isoformat(), SOURCE: selection_token(source)}  # fmt: skip
    return "&" + urlencode(period)


def _calls_pivot(scope: Scope, calls: list[dict]) -> dict:
    months = sorted({row["month"] for row in calls})
    by_source: dict[str, dict] = {}
    for row in calls:
        entry = by_source.setdefault(row["id"], {"name": row["name"], "values": {}})
        entry["values"][row["month"]] = row["calls"]
    return {
        "months": months,
        "rows": [
            {"name": entry["name"], "total": sum(entry["values"].values()),
             "params": "&" + urlencode({SOURCE: selection_token(source)}),
             "cells": [(entry["values"].get(m, 0), _month_params(scope, m, source))
                       for m in months]}
            for source, entry in by_source.items()
        ],
    }  # fmt: skip


def _charts(data: dict) -> dict:
    sources = data["sources"]
    names = [row["name"] for row in sources]
    return {
        "doughnut": json.dumps({"kind": "doughnut", "labels": names,
                                "values": [row["received"] for row in sources],
                                "colors": list(COLORS)}),
        "states": json.dumps({"stacked": True, "labels": names, "datasets": [
            {"label": str(column_label(state)), "values": [row[state] for row in sources],
             "type": "bar"} for state in STATES]}),
    }  # fmt: skip


def _top_chart(top: dict) -> str:
    return json.dumps({"labels": top["periods"], "datasets": [
        {"label": row["name"], "values": row["values"]} for row in top["sources"]]})  # fmt: skip


def _dynamics(request, scope: Scope) -> dict:
    """A line per source over the 12 months ending at the period's end (within the window)."""
    metric = request.GET.get("metric") or "received"
    grain = request.GET.get("grain") or "month"
    if metric not in DYNAMICS_METRICS or grain not in ("month", "quarter"):
        raise BadFilter(_("Unknown metric or grain"))
    start = month_add(scope.end.replace(day=1), -11)
    year = scope_resolve(scope.portal, viewer_of(request.app_session), start=start,
                         end=scope.end, **scope.filters)  # fmt: skip
    dynamics = marketing_dynamics(year, metric, grain=grain)
    lines = [{"label": one["name"], "values": one["values"]} for one in dynamics["sources"]]
    return {
        "metric": metric,
        "grain": grain,
        "dynamics": dynamics,
        "dynamics_metrics": [(m, column_label(m)) for m in DYNAMICS_METRICS],
        "dynamics_chart": json.dumps(
            {"labels": [period(label) for label in dynamics["periods"]], "datasets": lines}
        ),
    }
