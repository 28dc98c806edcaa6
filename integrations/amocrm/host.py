"""How our pages, framed by amoCRM's widget, talk to the account's page."""

from __future__ import annotations

from django.templatetags.static import static


def host_scripts() -> list[str]:
    """Only ours: the widget around the frame listens to its messages (amoCRM loads no JS
    API into a third-party frame)."""
    return [static("amocrm/host.js")]
