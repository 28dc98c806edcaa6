"""The pages of /bitrix24/ this folder serves (the app page and events are mounted by
frontend and webhooks at the same prefix)."""

from __future__ import annotations

from django.urls import path

from integrations.bitrix24.views import install

urlpatterns = [
    path("install/", install, name="bitrix24-install"),
]
