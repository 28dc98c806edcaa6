"""The marketing report's drill-downs: the leads, deals or calls behind each figure, chosen
by the same selectors the figure is counted with, so a list's length is its number."""

from __future__ import annotations

from django.db.models import Q

from crmapp.models import Deal, Lead
from reports.drill import activity_rows, drill, entity_rows, listing_of
from reports.marketing import (
    closed_leads,
    cohort_deals,
    first_status_id,
    lead_statuses,
    received_leads,
    source_calls,
    stage_reached_leads,
)
from reports.metrics import IS_LOST, IS_OPEN, IS_WON
from reports.paging import rows_slice
from reports.scope import Scope

LEAD_LISTS = {"received", "new", "in_work", "qualified", "unqualified", "closed", "converted",
              "conversion", "processing_days"}  # fmt: skip
MARKETING_WHAT = LEAD_LISTS | {"won_count", "won_sum", "cohort_revenue", "calls"}
REACHED = "reached:"  # + a lead status id: the received leads that were ever in it
IN_STATUS = "status:"  # + a lead status id: the received leads in it now (the matrix)


def marketing_drill_known(what: str) -> bool:
    return what in MARKETING_WHAT or any(
        what.startswith(prefix) and len(what) > len(prefix) for prefix in (REACHED, IN_STATUS)
    )


def marketing_drill(scope: Scope, what: str, *, limit: int | None = None, offset: int = 0) -> dict:
    """`{"kind", "total", "rows"}` behind one marketing figure (a source row's figure is the
    same list with the source filter set to that source)."""
    if not marketing_drill_known(what):
        raise ValueError(f"nothing to list for {what!r}")
    page = {"limit": limit, "offset": offset}
    if what in ("won_count", "won_sum"):
        return drill(scope, what, limit=limit, offset=offset)
    if what == "cohort_revenue":
        rows = cohort_deals(scope, received_leads(scope)).order_by("-amount", "crm_id")
        return listing_of("deals", rows, entity_rows(scope, Deal, rows_slice(rows, **page)))
    if what == "calls":
        rows = source_calls(scope).order_by("-completed_at", "crm_id")
        return listing_of("activities", rows, activity_rows(scope, rows_slice(rows, **page)))
    rows = _leads(scope, what).order_by("-created_at", "crm_id")
    return listing_of("leads", rows, entity_rows(scope, Lead, rows_slice(rows, **page)))


def _leads(scope: Scope, what: str):
    if what.startswith(REACHED):
        return stage_reached_leads(scope, what.removeprefix(REACHED))
    if what.startswith(IN_STATUS):
        return received_leads(scope).filter(status__crm_id=what.removeprefix(IN_STATUS))
    if what in ("closed", "conversion", "processing_days"):
        return closed_leads(scope)
    if what == "converted":
        return closed_leads(scope).filter(IS_WON)
    received = received_leads(scope)
    first = first_status_id(lead_statuses(scope.portal))
    if what == "qualified":
        return received.filter(IS_WON)
    if what == "unqualified":
        return received.filter(IS_LOST)
    is_new = Q(status_id=first) if first is not None else Q(pk__in=[])
    if what == "new":
        return received.filter(is_new, IS_OPEN)
    if what == "in_work":
        return received.filter(IS_OPEN).exclude(is_new)
    return received
