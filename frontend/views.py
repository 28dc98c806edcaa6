from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone

from crmapp.selectors import portal_summaries


def home(request: HttpRequest) -> HttpResponse:
    """The operator's start page: installed portals and their import progress."""
    return render(request, "frontend/home.html", {"portals": portal_summaries(now=timezone.now())})


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
