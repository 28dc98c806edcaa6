"""HTTP client for the sandbox control API; works for in-process and subprocess sandboxes alike."""

from __future__ import annotations

from typing import Any

import requests


class SandboxControl:
    """Thin wrapper around ``/_sandbox/...`` using the control key from the info JSON."""

    def __init__(self, info: dict[str, Any], timeout: float = 30) -> None:
        self.info = info
        self.base = info["control"]["url"]
        self.headers = {info["control"]["header"]: info["control"]["key"]}
        self.verify = info["ca_bundle"]
        self.timeout = timeout

    def request(self, verb: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call a control endpoint and return its JSON; raises ``requests.HTTPError`` on failure."""
        response = requests.request(
            verb,
            f"{self.base}/{path.lstrip('/')}",
            json=body or {},
            headers=self.headers,
            verify=self.verify,
            timeout=self.timeout,
        )
        response.raise_for_status()
        return response.json()

    # --- data changes (deliver events) ----------------------------------------------------------
    def create(self, kind: str, fields: dict[str, Any], **options: Any) -> int:
        """Create a deal/lead/activity (``kind``: deals|leads|activities); returns its ID."""
        return int(self.request("POST", kind, {"fields": fields, **options})["id"])

    def update(self, kind: str, ident: int, fields: dict[str, Any], **options: Any) -> None:
        """Update an entity (a STAGE_ID change writes stage history)."""
        self.request("POST", f"{kind}/{ident}", {"fields": fields, **options})

    def delete(self, kind: str, ident: int, **options: Any) -> None:
        """Delete an entity."""
        self.request("DELETE", f"{kind}/{ident}", options)

    def move_deal(
        self, ident: int, category_id: int, stage_id: str | None = None, **options: Any
    ) -> None:
        """Move a deal to another pipeline (ONCRMDEALMOVETOCATEGORY)."""
        self.request(
            "POST",
            f"deals/{ident}/move",
            {"category_id": category_id, "stage_id": stage_id, **options},
        )

    def convert_lead(self, ident: int, **options: Any) -> int:
        """Convert a lead into a deal; returns the deal ID."""
        return int(self.request("POST", f"leads/{ident}/convert", options)["deal_id"])

    # --- app lifecycle, time, tokens ------------------------------------------------------------
    def install_finish(self) -> None:
        """``BX24.installFinish()``: events start flowing, ONAPPINSTALL is sent."""
        self.request("POST", "install_finish")

    def reinstall(self) -> dict[str, str]:
        """Install the app again; returns the new install form."""
        return self.request("POST", "install")["install"]

    def uninstall(self, clean: bool = True) -> None:
        """Uninstall the app (ONAPPUNINSTALL with data[CLEAN])."""
        self.request("POST", "uninstall", {"clean": clean})

    def set_app(self, **fields: Any) -> dict[str, Any]:
        """Set app.info ``status``, ``payment_expired`` and ``days`` (left from now; DAYS then
        counts down with the portal clock and PAYMENT_EXPIRED turns Y at the end)."""
        return self.request("POST", "app", fields)

    def advance_time(self, seconds: float) -> dict[str, Any]:
        """Move the portal clock forward."""
        return self.request("POST", "time", {"advance_seconds": seconds})

    def expire_tokens(self) -> int:
        """Expire every issued access token now."""
        return int(self.request("POST", "tokens/expire")["expired"])

    def placement(
        self, user_id: int, placement: str = "DEFAULT", options: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The POST the portal sends when ``user_id`` opens the app: ``{"query", "body"}``."""
        return self.request(
            "POST", "placement", {"user_id": user_id, "placement": placement, "options": options}
        )

    def oauth_code(self, user_id: int = 1) -> str:
        """An authorization code for ``user_id`` (30 s)."""
        return str(self.request("POST", "oauth/code", {"user_id": user_id})["code"])

    # --- observation and knobs ------------------------------------------------------------------
    def notifications(self) -> list[dict[str, Any]]:
        """Notifications sent with im.notify.system.add."""
        return self.request("GET", "notifications")

    def event_log(self) -> list[dict[str, Any]]:
        """Event deliveries (and events not sent before install finish)."""
        return self.request("GET", "events")

    def wait_events(self, timeout: float = 10) -> bool:
        """Wait until queued events were delivered."""
        return bool(self.request("POST", "events/wait", {"timeout": timeout})["idle"])

    def event_knobs(self, **knobs: Any) -> dict[str, Any]:
        """Set delivery knobs: delay, duplicates, reorder, reorder_window, drop_next."""
        return self.request("POST", "events/knobs", knobs)

    def rate_limit(self, capacity: float, rate: float) -> None:
        """Reconfigure (and empty) the leaky bucket."""
        self.request("POST", "rate_limit", {"capacity": capacity, "rate": rate})

    def fault(self, method: str, error: str, count: int = 1) -> None:
        """Make the next ``count`` calls of ``method`` (``*`` any) fail with ``error``."""
        self.request("POST", "faults", {"method": method, "error": error, "count": count})

    def reset(self) -> dict[str, Any]:
        """Restore generated data and a fresh installation; returns the new info."""
        self.info = self.request("POST", "reset")
        return self.info

    def digest(self) -> str:
        """SHA-256 of all stored rows."""
        return str(self.request("GET", "digest")["digest"])
