"""The pages of /amocrm/ this folder serves (the app page is mounted by frontend, the
webhooks by webhooks, at the same prefix)."""

from __future__ import annotations

from django.urls import path

from integrations.amocrm.app_session import app_session
from integrations.amocrm.revoked import access_revoked
from integrations.amocrm.views import oauth_callback

urlpatterns = [
    path("oauth/callback/", oauth_callback, name="amocrm-oauth-callback"),
    path("app/session/", app_session, name="amocrm-app-session"),
    path("revoked/", access_revoked, name="amocrm-access-revoked"),
]
