"""manage.py amocrm_widget [--output PATH]: build the amoCRM widget archive to upload."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from integrations.amocrm.widget_bundle import widget_zip


class Command(BaseCommand):
    help = "Build the amoCRM widget archive (its script calls PUBLIC_URL) to upload to amoCRM."

    def add_arguments(self, parser):
        parser.add_argument("--output", default=str(Path(settings.VAR_DIR) / "amocrm-widget.zip"))

    def handle(self, *args, output: str, **options):
        names = widget_zip(Path(output), backend_url=settings.PUBLIC_URL)
        self.stdout.write(f"{output}: {', '.join(names)} (backend {settings.PUBLIC_URL})")
