"""POST /bitrix24/events/: verify → resolve portal → store → wake (webhooks.receive).

The body's parsing and the application_token check live in integrations/bitrix24/.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from webhooks.receive import event_receive


@csrf_exempt
@require_POST
def events(request: HttpRequest) -> HttpResponse:
    return event_receive(request, "bitrix24")
