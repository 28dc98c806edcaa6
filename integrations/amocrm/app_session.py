"""POST /amocrm/app/session/: the widget's `$authorizedAjax` call, answered across origins.

The widget runs in the account's own page (https://<subdomain>.amocrm.ru), so the answer
carries CORS for that origin only: the preflight admits amoCRM hosts, the answer the
account the JWT names.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from integrations.amocrm.app_open import WidgetTokenRefused, session_open
from integrations.amocrm.install import referer_check
from integrations.errors import InvalidPayload


def _origin_allowed(origin: str) -> bool:
    scheme, _, host = origin.partition("://")
    if scheme != "https":
        return False
    try:
        referer_check(host)
    except InvalidPayload:
        return False
    return True


def _cors(response: HttpResponse, origin: str) -> HttpResponse:
    response["Access-Control-Allow-Origin"] = origin
    response["Access-Control-Allow-Headers"] = "X-Auth-Token, Content-Type"
    response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response["Access-Control-Max-Age"] = "600"
    response["Vary"] = "Origin"
    return response


@csrf_exempt
def app_session(request: HttpRequest) -> HttpResponse:
    origin = request.headers.get("Origin", "")
    if request.method == "OPTIONS":
        response = HttpResponse(status=204)
        return _cors(response, origin) if _origin_allowed(origin) else response
    if request.method != "POST":
        return JsonResponse({"detail": "POST only"}, status=405)
    try:
        portal, url = session_open(request.headers.get("X-Auth-Token", ""))
    except WidgetTokenRefused as refused:
        response = JsonResponse({"detail": refused.message}, status=refused.status)
        return _cors(response, origin) if _origin_allowed(origin) else response
    response = JsonResponse({"url": url})
    response["Cache-Control"] = "no-store"
    account_origin = f"https://{portal.domain}"
    return _cors(response, account_origin) if origin == account_origin else response
