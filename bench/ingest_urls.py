"""The app's URLs plus an empty view, the baseline the webhook ingest is measured against."""

from __future__ import annotations

from django.http import HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def empty(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("bench/empty/", empty), path("", include("crmapp.urls"))]
