from __future__ import annotations

import json

from django.core.management.base import BaseCommand
from django.utils import timezone

from crmapp.selectors import portal_summaries

COLUMNS = (
    "key",
    "kind",
    "status",
    "tier",
    "window_months",
    "trial_days_left",
    "import",
    "data_as_of",
)


class Command(BaseCommand):
    help = "List installed portals with their status, tier and import progress."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["table", "json"], default="table")

    def handle(self, *args, format: str, **options):
        rows = portal_summaries(now=timezone.now())
        if format == "json":
            self.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2))
            return
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
