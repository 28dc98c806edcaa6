"""The sandbox CRM's host page: the stand-in for the CRM's own page that frames our app."""

from __future__ import annotations

from django.urls import path

from .amocrm import host as amocrm_host
from .bitrix24 import host

urlpatterns = [
    path("crm-host/", host.crm_host, name="crm-host"),
    path("crm-host/install-finish/", host.crm_host_install_finish, name="crm-host-finish"),
    path("crm-host/amocrm/", amocrm_host.crm_host, name="crm-host-amocrm"),
]
