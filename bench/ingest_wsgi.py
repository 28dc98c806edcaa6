"""gunicorn entry point for the ingest benchmark: the real app with the empty view added."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crmapp.settings")

import django
from django.conf import settings

django.setup()
settings.ROOT_URLCONF = "bench.ingest_urls"

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
