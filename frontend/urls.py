from __future__ import annotations

from django.urls import include, path

from frontend import (
    app_views,
    plan_bonus_views,
    plan_editor_views,
    plan_xlsx_views,
    report_views,
    settings_views,
    spend_views,
    tv_link_views,
    tv_views,
    views,
)
from integrations.registry import CRMS, crm_urls

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    # Each CRM's install page, app entry and event receiver, at /<kind>/ (the paths the CRM
    # was registered with: they never change).
    *[path(f"{kind}/", include(crm_urls(kind))) for kind in CRMS],
    *[path(f"{kind}/app/", app_views.crm_app, {"kind": kind}, name=f"{kind}-app") for kind in CRMS],
    path("", include("webhooks.urls")),
    path("app/", app_views.app_overview, name="app-overview"),
    path("app/progress/", app_views.app_progress, name="app-progress"),
    path(
        "app/reports/forgotten/notify/",
        report_views.forgotten_notify_view,
        name="report-forgotten-notify",
    ),
    path("app/reports/<slug:name>/", report_views.report_page, name="report"),
    path("app/reports/<slug:name>/drill/", report_views.report_drill, name="report-drill"),
    path(
        "app/reports/<slug:name>/block/<slug:block>/",
        report_views.report_block,
        name="report-block",
    ),
    path("app/settings/", settings_views.report_settings, name="app-settings"),
    path("app/plan/", plan_editor_views.plan_editor, name="plan-editor"),
    path("app/plan/cell/", plan_editor_views.plan_cell_save, name="plan-cell"),
    path("app/plan/copy/", plan_editor_views.plan_copy, name="plan-copy"),
    path("app/plan/fill/", plan_editor_views.plan_fill, name="plan-fill"),
    path("app/plan/suggest/", plan_editor_views.plan_suggestions, name="plan-suggest"),
    path(
        "app/plan/suggest/save/",
        plan_editor_views.plan_suggestions_save,
        name="plan-suggest-save",
    ),
    path("app/plan/export/", plan_xlsx_views.plan_export, name="plan-export"),
    path("app/plan/import/", plan_xlsx_views.plan_upload, name="plan-import"),
    path("app/plan/bonus/", plan_bonus_views.plan_bonus_save, name="plan-bonus"),
    path("app/plan/tv/", tv_link_views.plan_tv_create, name="plan-tv"),
    path("app/plan/tv/<int:link_id>/revoke/", tv_link_views.plan_tv_revoke, name="plan-tv-revoke"),
    path("app/spend/", spend_views.spend_editor, name="spend-editor"),
    path("app/spend/cell/", spend_views.spend_cell_save, name="spend-cell"),
    path("app/spend/export/", spend_views.spend_export, name="spend-export"),
    path("app/spend/import/", spend_views.spend_upload, name="spend-import"),
    path("tv/<str:token>/", tv_views.tv_board, name="tv"),
]
