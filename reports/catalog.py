"""The reports by name: one function each, from a scope to plain data (pages, API, exports
and `manage.py report` all call these)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from reports.drill import WHAT, drill
from reports.dynamics import dynamics
from reports.efficiency import efficiency
from reports.forgotten import forgotten
from reports.marketing import marketing
from reports.marketing_drill import marketing_drill, marketing_drill_known
from reports.plan_report import plan
from reports.quality import quality
from reports.scope import Scope

REPORTS: dict[str, Callable[[Scope], dict]] = {
    "efficiency": efficiency,
    "forgotten": forgotten,
    "plan": plan,
    "quality": quality,
    "dynamics": dynamics,
    "marketing": marketing,
}


def report_listing(
    name: str,
    scope: Scope,
    what: str,
    *,
    limit: int | None = None,
    offset: int = 0,
    options: Mapping | None = None,
) -> dict:
    """The entities behind one of a report's numbers (its drill-down)."""  # fmt: skip
    if name == "marketing":
        return marketing_drill(scope, what, limit=limit, offset=offset)
    return drill(scope, what, limit=limit, offset=offset, options=options)


def report_listing_known(name: str, what: str) -> bool:
    return marketing_drill_known(what) if name == "marketing" else what in WHAT
