"""POST /amocrm/webhooks/<token>/: verify → resolve portal → store → wake (webhooks.receive).

amoCRM signs no hook: the per-portal secret token in the URL (portal.application_token) and
the body's account[id] prove the sender; the body's parsing lives in integrations/amocrm/.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from webhooks.receive import event_receive

ROUTE = "webhooks/<str:token>/"


@csrf_exempt
@require_POST
def events(request: HttpRequest, token: str) -> HttpResponse:
    return event_receive(request, "amocrm", proof=token)
