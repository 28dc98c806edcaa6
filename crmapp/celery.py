"""The Celery app: configuration comes from Django settings (CELERY_*)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crmapp.settings")

app = Celery("crmapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
