from __future__ import annotations

import argparse
import json
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from crmapp.models import Portal
from reports.catalog import REPORTS
from reports.scope import UTM_FIELDS, Viewer, scope_resolve


class Command(BaseCommand):
    help = "Print a report's data for a portal (as an admin sees it)."

    def add_arguments(self, parser):
        parser.add_argument("name", choices=sorted(REPORTS))
        parser.add_argument("--portal", required=True, help="the portal's domain or subdomain")
        parser.add_argument("--from", dest="start", required=True, type=_date)
        parser.add_argument("--to", dest="end", required=True, type=_date)
        parser.add_argument("--employee", type=int, help="CRM id of an employee")
        parser.add_argument("--department", type=int, help="CRM id of a department")
        parser.add_argument("--pipeline", type=int, help="CRM id of a pipeline")
        parser.add_argument(
            "--source", dest="sources", action="append",
            help="a source's CRM id (repeat for several; - = no source)",
        )  # fmt: skip
        for name in UTM_FIELDS:
            parser.add_argument(f"--{name.replace('_', '-')}", dest=name, help="- = empty")
        parser.add_argument("--format", choices=["table", "json"], default="table")

    def handle(self, *args, **options):
        with translation.override("en"):  # an operator's tool: stable English messages
            self._report(**options)

    def _report(self, *, name, portal, start, end, employee, department, pipeline, sources,
                format, **options):  # fmt: skip
        try:
            found = Portal.objects.get(key=portal)
        except Portal.DoesNotExist as error:
            raise CommandError(f"no portal {portal!r} (see `manage.py portals`)") from error
        try:
            scope = scope_resolve(
                found, Viewer.operator(), start=start, end=end, employee=employee,
                department=department, pipeline=pipeline, sources=sources,
                **{field: options.get(field) for field in UTM_FIELDS},
            )  # fmt: skip
        except ValueError as error:
            raise CommandError(str(error)) from error
        data = REPORTS[name](scope)
        if scope.clamped:
            self.stderr.write(f"note: {scope.clamp_notice()}")
        if format == "json":
            self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))
        else:
            self._tables(data)

    def _tables(self, data: dict) -> None:
        for key, value in data.items():
            if isinstance(value, list):
                self.stdout.write(f"\n{key}:")
                self._table(value)
            elif isinstance(value, dict):
                self.stdout.write(f"\n{key}:")
                self._table([value])
            else:
                self.stdout.write(f"{key}: {value}")

    def _table(self, rows: list[dict]) -> None:
        if not rows:
            self.stdout.write("  (none)")
            return
        columns = list(rows[0])
        table = [columns] + [[_cell(row.get(column)) for column in columns] for row in rows]
        widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
        for line in table:
            self.stdout.write(
                "  " + "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True))
            )


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from error


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)
