"""Each CRM's event receiver at /<kind>/<ROUTE> (webhooks/<kind>/views.py `events`; ROUTE
defaults to "events/")."""

from __future__ import annotations

from importlib import import_module

from django.urls import path

from integrations.registry import CRMS


def _route(kind: str):
    views = import_module(f"webhooks.{kind}.views")
    return path(f"{kind}/{getattr(views, 'ROUTE', 'events/')}", views.events, name=f"{kind}-events")


urlpatterns = [_route(kind) for kind in CRMS]
