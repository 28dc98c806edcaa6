from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from crmapp.admin_login import admin_login
from frontend.api import DrillAPIView, ReportAPIView

urlpatterns = [
    path("admin/login/", admin_login, name="admin-login-throttled"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/reports/<slug:name>/", ReportAPIView.as_view(), name="api-report"),
    path("api/reports/<slug:name>/drill/", DrillAPIView.as_view(), name="api-report-drill"),
    path("", include("frontend.urls")),
    # The sandbox CRM's host page (/crm-host/, demo and tests; 404 unless a sandbox is configured).
    path("", include("integrations.sandbox.urls")),
]
