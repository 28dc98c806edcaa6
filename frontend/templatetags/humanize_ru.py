"""Numbers the way a Russian head of sales reads them: 1 234 567."""

from __future__ import annotations

from django import template

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
def get(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def plain_number(value) -> str:
    """A number for an input field: no separators, a dot, no ".0" on whole numbers."""
    if value is None or value == "":
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
