from __future__ import annotations

import json

from django.core.management.base import BaseCommand
from django.utils import timezone

from crmapp.selectors import portal_summaries
from crmapp.tiers import window_first_day_start

COLUMNS = (
    "key",
    "kind",
    "status",
    "tier",
    "window_months",
    "window_from",
    "trial_days_left",
    "import",
    "data_as_of",
)


class Command(BaseCommand):
    help = (
        "List installed portals with their status, tier, history window (months and first "
        "day), trial days left and import progress."
    )

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["table", "json"], default="table")

    def handle(self, *args, format: str, **options):
        now = timezone.now()
        portals = portal_summaries(now=now)
        if format == "json":
            rows = [summary for _, summary in portals]
            self.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        rows = [
            summary | {"window_from": window_first_day_start(portal, now=now).date().isoformat()}
            for portal, summary in portals
        ]
        if not rows:
            self.stdout.write("No portals installed.")
            return
        table = [COLUMNS] + [tuple(_cell(row[column]) for column in COLUMNS) for row in rows]
        widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
        for line in table:
            cells = (cell.ljust(width) for cell, width in zip(line, widths, strict=True))
            self.stdout.write("  ".join(cells))


def _cell(value) -> str:
    if isinstance(value, dict):
        return f"{value['phase']} {value['done']}/{value['total']}"
    return "-" if value is None else str(value)
