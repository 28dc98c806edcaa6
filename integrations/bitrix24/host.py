"""How our pages, framed by a Bitrix24 portal, talk to it and link into it."""

from __future__ import annotations

from django.conf import settings
from django.templatetags.static import static


def host_scripts() -> list[str]:
    """Bitrix24's JS API (BX24), then ours putting fit-the-frame and open-a-card on it."""
    return [settings.BITRIX24_JS_API_URL, static("bitrix24/host.js")]
