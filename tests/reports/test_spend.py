from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone, translation

from crmapp.models import Deal, Source
from crmapp.retention import portal_history_purge
from reports.marketing import marketing
from reports.models import AdSpend, AdSpendChange, ReportSettings
from reports.plan_input import month_add
from reports.scope import Viewer, scope_resolve
from reports.spend import (
    SpendError,
    grid_months,
    month_share,
    spend_grid,
    spend_import,
    spend_set,
    spend_value_parse,
    spend_xlsx,
    spend_xlsx_read,
)


def _this_month(portal) -> date:
    return timezone.now().astimezone(ZoneInfo(portal.time_zone)).date().replace(day=1)


def test_typed_values_are_read_as_people_type_them_and_bad_ones_refused_with_a_sentence():
    assert spend_value_parse("20 000") == 2_000_000
    assert spend_value_parse("9\u00a0000,50") == 900_050
    assert spend_value_parse(150000.5) == 15_000_050
    assert spend_value_parse("  ") is None
    for bad, words in (("abc", "sum of money"), ("-5", "negative"), ("1.234", "two decimals"),
                       ("nan", "sum of money"), ("1e30", "too large")):  # fmt: skip
        with translation.override("en"), pytest.raises(SpendError, match=words):
            spend_value_parse(bad)


def test_a_month_partly_in_the_period_counts_its_share_of_days():
    assert month_share(date(2026, 3, 1), date(2026, 3, 1), date(2026, 3, 31)) == 1
    assert month_share(date(2026, 3, 1), date(2026, 3, 16), date(2026, 4, 30)) == 16 / 31
    assert month_share(date(2028, 2, 1), date(2028, 2, 1), date(2028, 2, 10)) == 10 / 29
    assert month_share(date(2026, 5, 1), date(2026, 3, 1), date(2026, 4, 30)) == 0


@pytest.mark.django_db
def test_spend_pro_rata_cost_per_lead_romi_and_roi_against_the_mirror(installed):
    now = timezone.now()
    month = month_add(_this_month(installed), -2)  # a whole month in the past
    last = month_add(month, 1) - timedelta(days=1)
    whole = marketing(scope_resolve(installed, Viewer.operator(), start=month, end=last))
    row = next(r for r in whole["sources"] if r["id"] and r["won_sum"] and r["received"])
    spend_set(installed, month=month, source=row["id"], cents=3_100_000, by=1, now=now)

    scope = scope_resolve(installed, Viewer.operator(), start=month, end=last)
    counted = next(r for r in marketing(scope)["sources"] if r["id"] == row["id"])
    zone = ZoneInfo(installed.time_zone)
    won = sum(
        Deal.objects.for_portal(installed)
        .filter(semantic="won", source=row["id"], closed_at__range=(
            datetime.combine(month, datetime.min.time(), zone),
            datetime.combine(last, datetime.max.time(), zone)))
        .values_list("amount", flat=True)
    )  # fmt: skip
    assert counted["spend"] == 31_000
    assert counted["cost_per_lead"] == round(31_000 / row["received"], 2)
    assert counted["romi"] == round(100 * (float(won) - 31_000) / 31_000, 2)
    assert counted["roi"] is None  # no gross margin set: ROI is hidden

    settings = ReportSettings.of(installed)
    settings.gross_margin = 40
    settings.save()
    counted = next(r for r in marketing(scope)["sources"] if r["id"] == row["id"])
    assert counted["roi"] == round(100 * (float(won) * 0.4 - 31_000) / 31_000, 2)

    # Ten days of the month count ten of its days' share of the spend.
    days = (last - month).days + 1
    part = scope_resolve(installed, Viewer.operator(), start=month, end=month + timedelta(9))
    counted = next(r for r in marketing(part)["sources"] if r["id"] == row["id"])
    assert counted["spend"] == round(31_000 * 10 / days, 2)
    # Another source's filter leaves this spend out.
    other = next(r["id"] for r in whole["sources"] if r["id"] != row["id"])
    assert marketing(scope_resolve(installed, Viewer.operator(), start=month, end=last,
                                   sources=(other or "-",)))["totals"]["spend"] == 0  # fmt: skip

    # Never purged with the history.
    portal_history_purge(installed, now=now + timedelta(days=3650))
    assert AdSpend.objects.for_portal(installed).count() == 1


@pytest.mark.django_db
def test_every_change_is_kept_and_the_xlsx_round_trip_is_checked_whole(connected):
    now = timezone.now()
    month = _this_month(connected)
    source = Source.objects.for_portal(connected).first().crm_id
    assert spend_set(connected, month=month, source=source, cents=100_00, by=1, now=now)
    assert not spend_set(connected, month=month, source=source, cents=100_00, by=1, now=now)
    assert spend_set(connected, month=month, source=source, cents=None, by=1, now=now)
    changes = AdSpendChange.objects.for_portal(connected).order_by("id")
    assert [(c.old_cents, c.new_cents) for c in changes] == [(None, 10000), (10000, None)]

    spend_set(connected, month=month, source="", cents=5_000_50, by=1, now=now)
    months = grid_months(connected, now=now)
    book = spend_xlsx(spend_grid(connected, months=months))
    cells = spend_xlsx_read(connected, book, now=now)
    assert (month, "", 5_000_50) in cells
    assert spend_import(connected, cells=cells, by=1, now=now) == 0  # nothing changed

    from io import BytesIO

    from openpyxl import load_workbook

    sheet_book = load_workbook(BytesIO(book))
    sheet = sheet_book.active
    sheet.cell(row=2, column=3, value=777)
    sheet.cell(row=3, column=4, value="много")  # a bad cell further down
    buffer = BytesIO()
    sheet_book.save(buffer)
    with translation.override("en"), pytest.raises(SpendError, match="D3"):
        spend_xlsx_read(connected, buffer.getvalue(), now=now)
    assert AdSpend.objects.for_portal(connected).count() == 1  # the good cell was not written
    with translation.override("en"), pytest.raises(SpendError, match="xlsx"):
        spend_xlsx_read(connected, b"not a workbook", now=now)
