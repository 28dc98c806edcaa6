"""The reports by name: one function each, from a scope to plain data (pages, API, exports
and `manage.py report` all call these)."""

from __future__ import annotations

from collections.abc import Callable

from reports.efficiency import efficiency
from reports.forgotten import forgotten
from reports.marketing import marketing
from reports.plan_fact import plan
from reports.scope import Scope

REPORTS: dict[str, Callable[[Scope], dict]] = {
    "efficiency": efficiency,
    "forgotten": forgotten,
    "plan": plan,
    "marketing": marketing,
}
