"""Each CRM's event receiver at /<kind>/events/ (webhooks/<kind>/views.py `events`)."""

from __future__ import annotations

from importlib import import_module

from django.urls import path

from integrations.registry import CRMS

urlpatterns = [
    path(f"{kind}/events/", import_module(f"webhooks.{kind}.views").events, name=f"{kind}-events")
    for kind in CRMS
]
