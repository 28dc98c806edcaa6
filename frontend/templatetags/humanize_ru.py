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
