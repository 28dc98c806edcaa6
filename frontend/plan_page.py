"""The plan vs fact page: this month's score, the period's table and, below the fold, the
completion charts and dynamics, each a block of its own address.

The page reads only what is on it (this month, and the period when it is not this month);
the blocks below load when scrolled to (`hx-trigger="revealed"`), each reading its own
scopes once. Long employee tables come a page at a time, and a line's pipelines when it
is opened (a year's split into pipelines was most of the table's cost); the exports hold
every row.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from frontend.paging import PAGE_ROWS, page_number, page_rows, pager
from frontend.report_request import BadFilter, viewer_of
from frontend.templatetags.humanize_ru import period
from reports.models import PlanMetric
from reports.plan_dynamics import plan_dynamics
from reports.plan_fact import plan_fact
from reports.plan_input import month_add
from reports.plan_labels import plan_metric_labels
from reports.plan_period import plan_period
from reports.plan_today import plan_today
from reports.scope import Scope, plan_rights, scope_resolve

BLOCKS = ("completion", "dynamics", "period", "pipelines", "today")
LINES = ("employee", "department")  # the lines of the period table that open to pipelines
# The page parameters of the two paged tables: the period's and today's.
PAGED = {"period": "page", "today": "today_page"}


def plan_options(query) -> tuple[str, str]:
    """The plan metric and the dynamics' grain of a request."""
    metric = query.get("metric") or PlanMetric.WON_SUM
    grain = query.get("grain") or "month"
    if metric not in PlanMetric.values or grain not in ("month", "quarter"):
        raise BadFilter(_("Unknown metric or grain"))
    return metric, grain


def plan_context(request: HttpRequest, scope: Scope, query: Callable[..., str]) -> dict:
    """What the page shows at once: this month's score with today's people (a page of
    them) and, in the month view, the period's table (a page of its employees). `query` is
    the page's query string builder (report_views._query)."""
    metric, grain = plan_options(request.GET)
    this_month, today = _this_month(request, scope)
    month_data = plan_fact(this_month, split=False)
    labels = plan_metric_labels(scope.portal)
    return {
        "metric": metric,
        "grain": grain,
        "plan_metrics": list(labels.items()),
        "can_edit": plan_rights(scope.portal, viewer_of(request.app_session)).any,
        # The day of every plan metric at once: what a seller has to do today, and did.
        "today_metrics": [
            (
                labels[m],
                plan_today(this_month, m, today=today, data=month_data, people=False)["totals"],
            )
            for m in PlanMetric.values
        ],
        **_today_block(request, this_month, today, metric, month_data, query),
        # The month view's period is this month, read already; another period's table
        # is below the fold and loads when scrolled to.
        **(_period_block(request, scope, metric, month_data, query) if this_month == scope else {}),
    }


def plan_block_context(
    request: HttpRequest, scope: Scope, block: str, query: Callable[..., str]
) -> dict:
    """One block of the page alone (the lazy ones, and a page of a paged table)."""
    metric, grain = plan_options(request.GET)
    context = {"metric": metric, "grain": grain}
    if block == "completion":
        return context | {"completion_charts": _completion_charts(request, scope, metric)}
    if block == "dynamics":
        return context | _dynamics_block(request, scope, metric, grain)
    if block == "period":
        data = plan_fact(scope, split=False)
        return context | _period_block(request, scope, metric, data, query)
    if block == "pipelines":
        return context | _pipelines_block(request, scope, metric)
    this_month, today = _this_month(request, scope)
    month_data = plan_fact(this_month, split=False)
    return context | _today_block(request, this_month, today, metric, month_data, query)


def _this_month(request: HttpRequest, scope: Scope):
    today = timezone.now().astimezone(scope.zone).date()
    viewer = viewer_of(request.app_session)
    month = scope_resolve(
        scope.portal, viewer, start=today.replace(day=1), end=today, **scope.filters
    )
    return month, today


def _today_block(request, this_month: Scope, today, metric, data, query) -> dict:
    board = plan_today(this_month, metric, today=today, data=data)
    rows, paging = _paged(request, board["employees"], "today", query)
    return {"today": board, "today_people": rows, "today_pager": paging}


def _period_block(request, scope: Scope, metric: str, data: dict, query) -> dict:
    table = plan_period(scope, metric, data=data)
    total = sum(len(g["employees"]) for g in table["departments"]) + len(table["employees"])
    number, paging = _page_number(request, total, "period", query)
    return {"table": _period_page(table, number, total), "period_pager": paging}


def _pipelines_block(request, scope: Scope, metric: str) -> dict:
    """One line of the period table split into its pipelines: the scope is already
    narrowed to the line's employee or department (its id is the filter of that name, under
    the same rights as the page), so the line is the table's only one of its level."""
    level = request.GET.get("line")
    if level not in LINES or scope.filters.get(level) is None:
        raise BadFilter(_("Name the employee or department whose pipelines to show"))
    departments, people = _lines_by_id(plan_period(scope, metric, data=plan_fact(scope)))
    crm_id = str(scope.filters[level])
    line = (departments if level == "department" else people).get(crm_id)
    return {"line": line, "line_parent": f"{level[0]}-{crm_id}", "line_drill": f"&{level}={crm_id}"}


def _lines_by_id(table: dict) -> tuple[dict, dict]:
    """A period table's department lines and employee lines, each by id."""
    departments = {row["id"]: row for row in table["departments"]}
    people = [*table["employees"]]
    for group in table["departments"]:
        people += group["employees"]
    return departments, {row["id"]: row for row in people}


def _period_page(table: dict, number: int, total: int) -> dict:
    """The table with one page of its employees, each under his department's row (a
    department spanning two pages heads both; one without direct employees sits where the
    walk reaches it). The totals stay the whole period's."""
    low, high = (number - 1) * PAGE_ROWS, number * PAGE_ROWS
    seen, groups = 0, []
    for group in table["departments"]:
        employees = group["employees"]
        mine = employees[max(low - seen, 0) : max(high - seen, 0)]
        anchor = min(seen, max(total - 1, 0))
        if mine or (not employees and low <= anchor < high):
            groups.append(group | {"employees": mine})
        seen += len(employees)
    loose = table["employees"][max(low - seen, 0) : max(high - seen, 0)]
    return table | {"departments": groups, "employees": loose}


def _paged(request, rows: list, table: str, query) -> tuple[list, dict | None]:
    number, paging = _page_number(request, len(rows), table, query)
    return page_rows(rows, number), paging


def _page_number(request, total: int, table: str, query) -> tuple[int, dict | None]:
    """The page of `table` asked for and its pager: the page's address carries both
    tables' pages (without JS), the block's only its own."""
    number = page_number(request.GET, PAGED[table], total)
    options = {key: request.GET.get(key, "") for key in ("metric", "grain")}
    others = {key: request.GET.get(key, "") for key in PAGED.values()}
    page_path = reverse("report", args=["plan"])

    def link(page: int) -> tuple[str, str]:
        mine = {PAGED[table]: page}
        return (
            f"{page_path}?{query(request, **(options | others | mine))}",
            f"{page_path}block/{table}/?{query(request, session=False, **(options | mine))}",
        )

    return number, pager(table, number, total, target=f"#plan-{table}", link=link)


def _dynamics_block(request, scope: Scope, metric: str, grain: str) -> dict:
    """Completion month to month over the year to the period's end."""
    start = month_add(scope.end.replace(day=1), -11)
    viewer = viewer_of(request.app_session)
    history = scope_resolve(scope.portal, viewer, start=start, end=scope.end, **scope.filters)
    dynamics = plan_dynamics(history, metric, grain=grain, data=plan_fact(history, split=False))
    chart = {
        "labels": [period(label) for label in dynamics["periods"]],
        "datasets": [
            {"label": str(_("Plan")), "values": dynamics["plan"], "type": "bar"},
            {"label": str(_("Fact")), "values": dynamics["fact"], "type": "bar"},
            {
                "label": str(_("Completion, %")),
                "values": dynamics["completion"],
                "axis": "percent",
            },
        ],
    }
    return {"dynamics": dynamics, "chart": json.dumps(chart)}


def _completion_charts(request, scope: Scope, metric: str) -> list[tuple[str, str]]:
    """Completion this month beside last month's, by department and by employee: where a
    plan exists in either month."""
    this_month, today = _this_month(request, scope)
    last_month = scope_resolve(
        scope.portal, viewer_of(request.app_session),
        start=month_add(today.replace(day=1), -1),
        end=today.replace(day=1) - timedelta(days=1), **scope.filters,
    )  # fmt: skip
    # The charts read each row's own figures, not its pipelines.
    now = plan_period(this_month, metric, data=plan_fact(this_month, split=False))
    before = plan_period(last_month, metric, data=plan_fact(last_month, split=False))

    charts = []
    for title, current, previous in zip(
        (_("Completion by department"), _("Completion by employee")),
        _lines_by_id(now),
        _lines_by_id(before),
        strict=True,
    ):
        planned = [
            key
            for key, row in current.items()
            if row["plan"] is not None or previous.get(key, {}).get("plan") is not None
        ]
        if not planned:
            continue
        spec = {
            "labels": [current[key]["name"] for key in planned],
            "datasets": [
                {"label": str(_("This month, %")), "type": "bar",
                 "values": [current[key]["completion"] for key in planned]},
                {"label": str(_("Last month, %")), "type": "bar",
                 "values": [previous.get(key, {}).get("completion") for key in planned]},
            ],
        }  # fmt: skip
        charts.append((title, json.dumps(spec)))
    return charts
