"""Numbers and periods the way a Russian head of sales reads them: 1 234 567, Янв 2026."""

from __future__ import annotations

import calendar
import re
from datetime import date

from django import template
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from integrations.registry import card_path as registry_card_path
from integrations.registry import card_url as registry_card_url

register = template.Library()


@register.filter
def thousands(value) -> str:
    try:
        return f"{int(value):,}".replace(",", "\u00a0")
    except (TypeError, ValueError):
        return "" if value is None else str(value)


@register.filter
def minutes(seconds) -> int:
    return max(1, round(int(seconds) / 60))


@register.filter
def number(value) -> str:
    """A report cell: thousands separated, two decimals when not whole, a dash for no value
    (a ratio without a denominator)."""
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        whole, _, cents = f"{value:,.2f}".partition(".")
        return f"{whole.replace(',', chr(0xA0))},{cents}"
    return thousands(value)


@register.filter
def percent(value) -> str:
    """A percentage with one decimal always, so a column reads 84,3 above 90,0, not 84,31
    above 90."""
    if value is None:
        return "—"
    return f"{float(value):,.1f}".replace(",", "\u00a0").replace(".", ",")


@register.filter
def percent_text(value) -> str:
    """A percentage in running text: "84,3 %", or a dash alone when there is none."""
    return "—" if value is None else f"{percent(value)}\u00a0%"


@register.simple_tag
def progress_bar(share, css: str = "bar") -> str:
    """A percentage as a bar: a <progress> element, because the page's CSP ignores style
    attributes (a width set in one would draw every bar full) and screen readers read it."""
    value = 0.0 if share is None else max(0.0, min(100.0, float(share)))
    over = " over" if share is not None and float(share) >= 100 else ""
    shown = f"{value:.0f}"
    return format_html(
        '<progress class="{}{}" max="100" value="{}">{} %</progress>', css, over, shown, shown
    )


@register.filter
def get(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.simple_tag
def number_cells(row, columns, drill_base: str, plain: str = "", scope_param: str = "") -> str:
    """One table row's number cells, each a drill-down link unless its key is in `plain`
    (space-separated). Built here rather than cell by cell in the template: a year's table
    has thousands of cells, and the template engine spent most of the page's time on them."""
    plain_keys = set(plain.split())
    link = '<td class="num"><a href="#" hx-get="{}&what={}{}" hx-target="#drill">{}</a></td>'
    cells = []
    for key, label in columns:
        value = percent(row.get(key)) if str(label).endswith("%") else number(row.get(key))
        if key in plain_keys:
            cells.append(format_html('<td class="num">{}</td>', value))
        else:
            cells.append(format_html(link, drill_base, key, scope_param, value))
    return mark_safe("".join(cells))  # noqa: S308 — every part went through format_html


@register.filter
def plain_number(value) -> str:
    """A number for an input field: no separators, a dot, no ".0" on whole numbers."""
    if value is None or value == "":
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@register.filter
def input_number(value) -> str:
    """A number for an input field, written as people type it back: 20 000 000 and
    9 000 000,50 (the plan parser reads both); empty for no value."""
    if value is None or value == "":
        return ""
    return number(value)


@register.simple_tag
def rule_cells(cells) -> str:
    """A data-quality row's rule cells: red with the reason (title and screen-reader text)
    where the deal fails, empty and unnamed where it passes. Built here for the same reason as
    `number_cells`: 200 rows of a dozen cells each."""
    fail = (
        '<td class="fail" data-rule="{}" title="{}"><span aria-hidden="true">✕</span>'
        '<span class="sr-only">{}</span></td>'
    )
    html = [
        format_html(fail, rule, reason, reason)
        if reason
        else '<td class="pass"></td>'  # the column's head names the rule
        for rule, reason in cells
    ]
    return mark_safe("".join(html))  # noqa: S308 — every part went through format_html


@register.filter
def month_end(month: str) -> str:
    """ "2027-02" → "2027-02-28": the last day of a report's month label."""
    year, number = (int(part) for part in month.split("-"))
    return f"{month}-{calendar.monthrange(year, number)[1]:02d}"


@register.filter
def iso_day(value: str) -> str:
    """ "2026-12-02" → 02.12.2026: a report's ISO date as the page's language writes dates."""
    return date_format(date.fromisoformat(value), "SHORT_DATE_FORMAT")


@register.filter
def card_url(crm_id, portal) -> str:
    """The CRM card of a deal listed by its id (the deals list keeps REPORTS.md's shape)."""
    return registry_card_url(portal, "deal", int(crm_id))


@register.filter
def card_path(crm_id, portal) -> str:
    """What the CRM's host script opens a deal's card with (a link's data-crm-path)."""
    return registry_card_path(portal, "deal", int(crm_id))


@register.filter
def lead_card_path(crm_id, portal) -> str:
    return registry_card_path(portal, "lead", int(crm_id))


_PERIOD = re.compile(r"(\d{4})(?:-(\d{2})| Q([1-4]))")


@register.filter
def period(label: str) -> str:
    """A report's period key ("2026-01", "2025 Q3", as the JSON has them) in the page's
    language: Янв 2026, 3 кв. 2025. Anything else is shown as it is."""
    found = _PERIOD.fullmatch(str(label))
    if found is None:
        return label
    year, month, quarter = found.groups()
    if month:
        return date_format(date(int(year), int(month), 1), "M Y")
    return _("Q%(quarter)s %(year)s") % {"quarter": quarter, "year": year}


@register.filter
def merge_source(cell: dict, source: str) -> dict:
    """A spend grid cell with its row's source, for the cell template."""
    return {**cell, "source": source}
