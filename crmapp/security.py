"""Response headers every data page, export and API answer carries."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers

from crmapp.models import Portal

# Pages and files holding a portal's numbers, names and deal titles: no browser or proxy may
# keep a copy (a shared office computer, a caching proxy in front of the CRM).
# Each CRM's entry pages live under /<kind>/ (Portal.Kind).
DATA_PREFIXES = ("/app/", "/api/reports/", "/tv/", *(f"/{kind}/" for kind in Portal.Kind.values))


class NoStoreMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path_info.startswith(DATA_PREFIXES):
            add_never_cache_headers(response)
        return response
