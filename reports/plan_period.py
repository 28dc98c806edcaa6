"""The plan page's period table: the period's months summed by department (each with its
direct employees) and the employees outside them, each with its pipelines."""

from __future__ import annotations

from collections import defaultdict

from crmapp.models import Pipeline
from reports.efficiency import in_work
from reports.models import PlanLevel
from reports.people import employee_labels
from reports.plan_fact import plan_fact
from reports.plan_numbers import ALL, PlanNumbers, plan_figures
from reports.scope import Scope


def plan_period(scope: Scope, metric: str, *, data: dict | None = None) -> dict:
    """The page's table: the period's months summed, departments (each with its direct
    employees) and the employees outside them, each with its pipelines (or, from an
    unsplit `plan_fact`, whether it has any); deals in work at the period's end; new and
    repeat sales. `data`, the scope's `plan_fact` when the caller has it already."""
    data = data or plan_fact(scope)
    summed: dict[tuple, PlanNumbers] = {}
    split: dict[tuple, list] = defaultdict(list)  # (level, crm id): its pipelines, by id
    for _month, level, crm_id, pipeline, numbers in data["entries"]:
        if (level, crm_id, pipeline) not in summed:
            summed[(level, crm_id, pipeline)] = PlanNumbers()
            if pipeline is not ALL:
                split[(level, crm_id)].append(pipeline)
        summed[(level, crm_id, pipeline)].add(numbers)
    total = PlanNumbers()
    for numbers in data["totals"].values():
        total.add(numbers)
    working: dict[int, list[tuple]] = defaultdict(list)
    # By employee: each line sums only its members' deals in work, not every employee's.
    for (employee, pipeline), (qty, cents) in in_work(
        scope, "deal", by=("employee_crm_id", "pipeline_crm_id")
    ).items():
        working[employee].append((pipeline, qty, cents))
    names = dict(Pipeline.objects.for_portal(scope.portal).values_list("crm_id", "name"))
    key = scope.pipeline if scope.pipeline is not None else ALL

    def line(level: str, crm_id: int, name: str, members: list[int] | None) -> dict:
        pipelines = [
            {"pipeline_id": str(p), "name": names.get(p, "—")}
            | _line_figures(summed[(level, crm_id, p)], metric, working, members, p)
            for p in (sorted(split[(level, crm_id)]) if key is ALL else ())
        ]
        numbers = summed.get((level, crm_id, key), PlanNumbers())
        figures = _line_figures(numbers, metric, working, members, ALL)
        return {
            "level": level,
            "id": str(crm_id),
            "name": name,
            "pipelines": pipelines,
            # An unsplit read leaves the pipelines to be read when the line is opened.
            "expandable": bool(pipelines) or (level, crm_id) in data.get("pipelined", ()),
        } | figures

    people = data["people"]
    labels = employee_labels(scope.portal, people)
    listed = sorted(
        {c for (lv, c, _p) in summed if lv == PlanLevel.EMPLOYEE},
        key=lambda c: (labels[c].casefold(), c),
    )
    shown = {department.crm_id for department, _members in data["departments"]}
    groups, placed = [], set()
    for department, members in data["departments"]:
        direct = [c for c in listed if people[c].department_id == department.pk]
        placed |= set(direct)
        depth, parent = 0, department.parent
        while parent is not None and parent.crm_id in shown and depth < 10:
            depth, parent = depth + 1, parent.parent
        groups.append(
            line(PlanLevel.DEPARTMENT, department.crm_id, department.name, members)
            | {
                "depth": depth,
                "employees": [line(PlanLevel.EMPLOYEE, c, labels[c], [c]) for c in direct],
            }
        )
    return {
        "metric": metric,
        "departments": groups,
        "employees": [
            line(PlanLevel.EMPLOYEE, c, labels[c], [c]) for c in listed if c not in placed
        ],
        "totals": _line_figures(total, metric, working, None, ALL),
    }


def _line_figures(numbers: PlanNumbers, metric: str, working, members, pipeline) -> dict:
    count = cents = 0
    for employee in working if members is None else set(members):
        for deal_pipeline, qty, amount in working.get(employee, ()):
            if pipeline is ALL or deal_pipeline == pipeline:
                count += qty
                cents += amount
    return plan_figures(numbers, metric) | {
        "in_work_count": count,
        "in_work_sum": round(cents / 100, 2),
        "new_count": numbers.won_qty - numbers.repeat_qty,
        "new_sum": round((numbers.won_cents - numbers.repeat_cents) / 100, 2),
        "repeat_count": numbers.repeat_qty,
        "repeat_sum": round(numbers.repeat_cents / 100, 2),
    }
