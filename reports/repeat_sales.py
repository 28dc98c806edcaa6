"""Won and repeat sales from the mirror (DESIGN.md "repeat sale"): a won deal whose company,
else contact, had an earlier win, in any pipeline and with anyone."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.db.models.functions import TruncMonth

from crmapp.models import Deal
from reports.facts import cents as amount_cents
from reports.metrics import IS_WON, in_scope_pipeline, of_scope_employees, won_in
from reports.models import NO_EMPLOYEE, NO_PIPELINE
from reports.plan_input import month_start
from reports.scope import Scope


def won_deals(scope: Scope):
    """The won deals of the scope: in a won stage, last won in the period (DESIGN.md)."""
    rows = Deal.objects.for_portal(scope.portal).filter(won_in(scope.span()))
    return in_scope_pipeline(scope, of_scope_employees(scope, rows))


def repeat_won_deals(scope: Scope):
    """The scope's won deals whose company (else contact) had an earlier won deal, in any
    pipeline and with anyone (DESIGN.md "repeat sale"); one query, each customer's earlier
    wins found through the company and contact indexes."""

    def earlier_win(field: str) -> Exists:
        return Exists(
            Deal.objects.for_portal(scope.portal).filter(
                IS_WON, closed_at__lt=OuterRef("closed_at"), **{field: OuterRef(field)}
            )
        )

    by_company = Q(company_crm_id__isnull=False) & earlier_win("company_crm_id")
    by_contact = Q(company_crm_id__isnull=True, contact_crm_id__isnull=False) & earlier_win(
        "contact_crm_id"
    )
    return won_deals(scope).filter(by_company | by_contact)


def repeat_deal_ids(scope: Scope) -> set[int]:
    return set(repeat_won_deals(scope).values_list("crm_id", flat=True))


def repeat_by_month(scope: Scope) -> dict[tuple[date, int], dict[int, tuple[int, int]]]:
    """{(month, employee): {pipeline: (count, cents)}} of repeat sales, from the mirror."""
    totals: dict[tuple[date, int], dict[int, tuple[int, int]]] = defaultdict(dict)
    rows = (
        repeat_won_deals(scope)
        .annotate(month=TruncMonth("closed_at", tzinfo=scope.zone))
        .values_list("month", "responsible__crm_id", "pipeline__crm_id")
        .annotate(qty=Count("id"), amount=Sum("amount"))
    )
    for month, employee, pipeline, qty, amount in rows:
        by_pipeline = totals[
            (month_start(month.date()), NO_EMPLOYEE if employee is None else employee)
        ]
        pipeline = NO_PIPELINE if pipeline is None else pipeline
        had_qty, had_cents = by_pipeline.get(pipeline, (0, 0))
        by_pipeline[pipeline] = (had_qty + qty, had_cents + amount_cents(amount))
    return dict(totals)
