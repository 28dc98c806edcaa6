"""Forgotten leads and deals (DESIGN.md "last touch", "forgotten", "no next step").

"Forgotten" depends on now, not on a day, so it is read from the mirror: open entities
created in the period, by their last touch (kept up to date with every event) and their
planned activities.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.db.models import Count, F, Q, Sum, Value
from django.utils import timezone

from crmapp.models import Deal, Employee, Lead
from integrations.registry import card_url
from reports.metrics import (
    DEAL_CREATED,
    IS_OPEN,
    LEAD_CREATED,
    created_in,
    idle_for,
    in_scope_pipeline,
)
from reports.models import ReportSettings
from reports.paging import rows_slice
from reports.people import employee_labels
from reports.rollup import facts_summed, facts_where
from reports.scope import Scope, entities_selected

IDLE, NO_NEXT_STEP = "idle", "no_next_step"
COUNTS = ["forgotten_deals", "forgotten_deals_sum", "no_next_step_deals", "forgotten_leads",
          "created_deals", "created_leads", "share"]  # fmt: skip


def _created(scope: Scope, model):
    rows = model.objects.for_portal(scope.portal).filter(created_in(scope.span()))
    rows = entities_selected(scope, rows)
    return in_scope_pipeline(scope, rows) if model is Deal else rows


def forgotten(scope: Scope, *, now: datetime | None = None, limit: int | None = None) -> dict:
    """The report; `limit` caps the two lists (a page shows the longest idle first), never
    the counts, which are aggregated in the database."""
    now = now or timezone.now()
    settings = ReportSettings.of(scope.portal)
    flagged_deals = deals_flagged(scope, now=now, reasons=(IDLE, NO_NEXT_STEP))
    flagged_leads = leads_flagged(scope, now=now)
    deals = deal_items(scope, flagged_deals, now=now, limit=limit)
    leads = lead_items(scope, flagged_leads, now=now, limit=limit)
    by_employee = _by_employee(
        scope, idle_for(settings.deal_days, now), idle_for(settings.lead_days, now)
    )
    # Counted with the per-employee figures, not by another scan of the period's deals.
    flagged_total = sum(row.pop("flagged_deals") for row in by_employee)
    return {
        "report": "forgotten",
        "from": scope.start.isoformat(),
        "to": scope.end.isoformat(),
        "lead_days": settings.lead_days,
        "deal_days": settings.deal_days,
        "deals": deals,
        "leads": leads,
        "deals_total": flagged_total,
        "leads_total": sum(row["forgotten_leads"] for row in by_employee),
        "by_employee": by_employee,
        "by_department": _by_department(scope, by_employee),
    }


def _longest_idle(now: datetime):
    """Idle time, longest first. Ordering by the expression rather than by `last_touch_at`
    keeps PostgreSQL from walking the open-by-last-touch index: deals created in a recent
    period were touched recently too, so that walk crosses every older open deal before it
    finds them (0.7 s on a 1M-deal portal, against 0.1 s through the creation index)."""
    return (Value(now) - F("last_touch_at")).desc()


def deals_flagged(scope: Scope, *, now: datetime, reasons=(IDLE,)):
    """Open deals created in the period with any of `reasons`."""
    wanted = Q(pk__in=[])
    if IDLE in reasons:
        wanted |= idle_for(ReportSettings.of(scope.portal).deal_days, now)
    if NO_NEXT_STEP in reasons:
        wanted |= Q(has_next_step=False)
    return _created(scope, Deal).filter(IS_OPEN).filter(wanted)


def leads_flagged(scope: Scope, *, now: datetime):
    """Open leads created in the period, idle past the threshold."""
    idle = idle_for(ReportSettings.of(scope.portal).lead_days, now)
    return _created(scope, Lead).filter(IS_OPEN).filter(idle)


def deal_items(scope: Scope, rows, *, now: datetime, limit: int | None = None,
               offset: int = 0) -> list[dict]:  # fmt: skip
    """The flagged deals as report items, longest idle first (sliced in SQL)."""
    deal_days = ReportSettings.of(scope.portal).deal_days
    values = _longest_idle_first(scope, rows, now, limit, offset).values(
        "crm_id", "title", "amount", "last_touch_at", "has_next_step",
        responsible_crm_id=F("responsible__crm_id"), stage_crm_id=F("stage__crm_id"),
        stage_name=F("stage__name"), responsible_name=F("responsible__name"),
    )  # fmt: skip
    items = []
    for row in values:
        idle = row["last_touch_at"] <= now - timedelta(days=deal_days)
        reasons = ([IDLE] if idle else []) + ([] if row["has_next_step"] else [NO_NEXT_STEP])
        items.append(_item(row, reasons, now, card_url(scope.portal, "deal", row["crm_id"])))
    return items


def lead_items(scope: Scope, rows, *, now: datetime, limit: int | None = None,
               offset: int = 0) -> list[dict]:  # fmt: skip
    values = _longest_idle_first(scope, rows, now, limit, offset).values(
        "crm_id", "title", "last_touch_at", responsible_crm_id=F("responsible__crm_id"),
        status_crm_id=F("status__crm_id"), status_name=F("status__name"),
        responsible_name=F("responsible__name"),
    )  # fmt: skip
    return [
        _item(row, [IDLE], now, card_url(scope.portal, "lead", row["crm_id"])) for row in values
    ]


def _longest_idle_first(scope: Scope, rows, now: datetime, limit: int | None, offset: int):
    """`rows` longest idle first, or one page of them. A page's ids are picked first, by a
    query the open-by-creation index answers alone; only then are its rows read and joined."""
    order = (_longest_idle(now), "crm_id")
    if limit is None and not offset:
        return rows.order_by(*order)
    page = rows_slice(
        rows.order_by(*order).values_list("pk", flat=True), limit=limit, offset=offset
    )
    return rows.model.objects.for_portal(scope.portal).filter(pk__in=list(page)).order_by(*order)


def _item(row: dict, reasons: list[str], now: datetime, url: str) -> dict:
    item = {
        "id": str(row["crm_id"]),
        "title": row["title"],
        "responsible_id": _id(row["responsible_crm_id"]),
        "responsible_name": row["responsible_name"] or "",
    }
    if "stage_crm_id" in row:
        item |= {
            "stage_id": row["stage_crm_id"],
            "stage_name": row["stage_name"] or "",
            "amount": round(float(row["amount"]), 2),
        }
    else:
        item |= {"status_id": row["status_crm_id"], "status_name": row["status_name"] or ""}
    return item | {
        "idle_days": (now - row["last_touch_at"]) // timedelta(days=1),
        "reasons": reasons,
        "url": url,
    }


def _id(crm_id: int | None) -> str | None:
    return None if crm_id is None else str(crm_id)


def _by_employee(scope: Scope, deal_idle: Q, lead_idle: Q) -> list[dict]:
    counts: dict[str | None, dict] = defaultdict(
        lambda: dict.fromkeys([*COUNTS[:-1], "flagged_deals"], 0)
    )
    open_deal = IS_OPEN
    # Only open deals can be flagged: the partial index of open deals by creation time
    # serves these scans; how many were created comes from the aggregates.
    deals = (
        _created(scope, Deal)
        .filter(open_deal)
        .values("responsible__crm_id")
        .annotate(
            forgotten_deals=Count("id", filter=deal_idle),
            forgotten_deals_sum=Sum("amount", filter=deal_idle),
            no_next_step_deals=Count("id", filter=Q(has_next_step=False)),
            flagged_deals=Count("id", filter=deal_idle | Q(has_next_step=False)),
        )
    )
    leads = (
        _created(scope, Lead)
        .filter(IS_OPEN)
        .values("responsible__crm_id")
        .annotate(forgotten_leads=Count("id", filter=lead_idle))
    )
    created = facts_summed(
        scope.portal, start=scope.start, end=scope.end,
        where=facts_where(scope, [DEAL_CREATED, LEAD_CREATED]),
        keys=("employee_crm_id", "metric"),
    )  # fmt: skip
    for (employee, metric), (qty, _cents, _seconds) in created.items():
        if qty:
            counts[_id(employee or None)][f"created_{metric.split('_')[0]}s"] += qty
    for row in [*deals, *leads]:
        numbers = counts[_id(row.pop("responsible__crm_id"))]
        for key, value in row.items():
            numbers[key] += float(value or 0) if key == "forgotten_deals_sum" else value
    names = employee_labels(scope.portal, [int(i) for i in counts if i is not None])
    rows = [
        {"id": crm_id, "name": names.get(int(crm_id), "") if crm_id else "—"} | _finish(numbers)
        for crm_id, numbers in counts.items()
    ]
    return sorted(rows, key=lambda row: (-row["forgotten_deals"], row["name"]))


def _by_department(scope: Scope, by_employee: list[dict]) -> list[dict]:
    departments = dict(
        Employee.objects.for_portal(scope.portal).values_list("crm_id", "department__crm_id")
    )
    names = dict(
        Employee.objects.for_portal(scope.portal)
        .filter(department__isnull=False)
        .values_list("department__crm_id", "department__name")
    )
    counts: dict[str | None, dict] = defaultdict(lambda: dict.fromkeys(COUNTS[:-1], 0))
    for row in by_employee:
        department = departments.get(int(row["id"])) if row["id"] else None
        numbers = counts[_id(department)]
        for key in COUNTS[:-1]:
            numbers[key] += row[key]
    rows = [
        {"id": crm_id, "name": names.get(int(crm_id), "") if crm_id else "—"} | _finish(numbers)
        for crm_id, numbers in counts.items()
    ]
    return sorted(rows, key=lambda row: (-row["forgotten_deals"], row["name"]))


def _finish(numbers: dict) -> dict:
    created = numbers["created_deals"]
    return numbers | {
        "forgotten_deals_sum": round(numbers["forgotten_deals_sum"], 2),
        "share": round(100 * numbers["forgotten_deals"] / created, 2) if created else None,
    }
