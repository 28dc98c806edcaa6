"""Event handlers (``event.bind``) and outbound event delivery.

Delivery follows b24restdocs ``api-reference/events/index.md``: a form-encoded POST in PHP bracket
notation, sent from a queue (a background thread here) shortly after the change, with no retries.
Events are not sent before the app called ``BX24.installFinish()`` (modelled by
:meth:`EventHub.finish_install`). Knobs let tests add delay, duplicates, reordering and drops.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from ..params import parse_pairs
from ..timeutil import format_ts
from .errors import RestError

KNOWN_EVENTS = frozenset(
    {
        "ONAPPINSTALL",
        "ONAPPUNINSTALL",
        "ONAPPUPDATE",
        "ONAPPPAYMENT",
        "ONCRMDEALADD",
        "ONCRMDEALUPDATE",
        "ONCRMDEALDELETE",
        "ONCRMDEALMOVETOCATEGORY",
        "ONCRMLEADADD",
        "ONCRMLEADUPDATE",
        "ONCRMLEADDELETE",
        "ONCRMACTIVITYADD",
        "ONCRMACTIVITYUPDATE",
        "ONCRMACTIVITYDELETE",
        "ONCRMCONTACTADD",
        "ONCRMCONTACTUPDATE",
        "ONCRMCONTACTDELETE",
        "ONCRMCOMPANYADD",
        "ONCRMCOMPANYUPDATE",
        "ONCRMCOMPANYDELETE",
        "ONUSERADD",
    }
)


@dataclass
class Handler:
    """A bound event handler."""

    id: int
    event: str
    handler: str
    auth_type: int
    user_id: int
    offline: bool = False


@dataclass
class Knobs:
    """Fault injection for delivery."""

    delay: float = 0.0
    duplicates: int = 0
    reorder: bool = False
    reorder_window: float = 0.3
    drop_next: int = 0


@dataclass
class _Outgoing:
    handler: Handler
    pairs: list[tuple[str, str]]
    event: str


AuthBuilder = Callable[[int | None, bool], list[tuple[str, str]]]


class EventHub:
    """Handlers of one app on one portal and the delivery queue."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.handlers: list[Handler] = []
        self.install_finished = False
        self.knobs = Knobs()
        self.log: list[dict[str, Any]] = []
        self.offline: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._log_ids = itertools.count(1)
        self._lock = threading.Lock()
        self._queue: queue.Queue[_Outgoing | None] = queue.Queue()
        self._busy = 0
        self._idle = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="sandbox-events", daemon=True)
        self._thread.start()

    # --- binding --------------------------------------------------------------------------------
    def bind(
        self, event: str, handler: str, auth_type: int, user_id: int, offline: bool
    ) -> Handler:
        """Register a handler; errors as event.bind documents them."""
        name = event.upper()
        if name not in KNOWN_EVENTS:
            raise RestError("ERROR_EVENT_NOT_FOUND", "Event not found", 400)
        with self._lock:
            for existing in self.handlers:
                if (existing.event, existing.handler, existing.auth_type) == (
                    name,
                    handler,
                    auth_type,
                ):
                    raise RestError(
                        "ERROR_HANDLER_ALREADY_EXIST",
                        "Unable to set event handler: Handler already binded",
                        400,
                    )
            bound = Handler(next(self._ids), name, handler, auth_type, user_id, offline)
            self.handlers.append(bound)
        return bound

    def unbind(self, event: str, handler: str | None, auth_type: int | None) -> int:
        """Remove matching handlers and return how many were removed."""
        name = event.upper()
        with self._lock:
            keep, removed = [], 0
            for bound in self.handlers:
                match = bound.event == name and (handler is None or bound.handler == handler)
                if match and auth_type is not None:
                    match = bound.auth_type == auth_type
                if match:
                    removed += 1
                else:
                    keep.append(bound)
            self.handlers = keep
        return removed

    def clear(self) -> None:
        """Drop every handler and queued offline event (app uninstalled or reset)."""
        with self._lock:
            self.handlers = []
            self.offline = []

    def finish_install(self) -> None:
        """The app called ``BX24.installFinish()``: events may be sent from now on."""
        self.install_finished = True

    # --- emitting -------------------------------------------------------------------------------
    def emit(
        self,
        event: str,
        data: list[tuple[str, str]],
        auth: AuthBuilder,
        *,
        acting_user: int | None,
        automation: bool = False,
        force: bool = False,
    ) -> int:
        """Queue ``event`` for every handler bound to it; returns how many deliveries were queued.

        ``data`` are the ``data[...]`` pairs; ``auth`` builds the ``auth[...]`` pairs for the
        handler's user (no tokens when ``automation``). Nothing is sent before install finished
        unless ``force`` (used for ONAPPUNINSTALL of a never-finished install).
        """
        with self._lock:
            targets = [h for h in self.handlers if h.event == event and not h.offline]
            has_offline = any(h.event == event and h.offline for h in self.handlers)
        if not self.install_finished and not force:
            self._record(event, None, "not sent: install not finished (BX24.installFinish)")
            return 0
        if has_offline:
            self._queue_offline(event, data)
        for handler in targets:
            user = handler.auth_type or acting_user or handler.user_id
            pairs = [("event", event), ("event_handler_id", str(handler.id)), *data]
            pairs.append(("ts", str(int(self.clock()))))
            pairs.extend(auth(user, automation))
            self._enqueue(_Outgoing(handler, pairs, event))
        return len(targets)

    def _queue_offline(self, event: str, data: list[tuple[str, str]]) -> None:
        """Record an offline event; repeated changes of one object collapse into one record."""
        fields = parse_pairs(data).get("data", {})
        object_id = str(fields.get("FIELDS", {}).get("ID", ""))
        with self._lock:
            self.offline = [
                e
                for e in self.offline
                if not (e["EVENT_NAME"] == event and e["_object"] == object_id)
            ]
            message = next(self._log_ids)
            self.offline.append(
                {
                    "ID": str(message),
                    "TIMESTAMP_X": format_ts(self.clock()),
                    "EVENT_NAME": event,
                    "EVENT_DATA": fields or False,
                    "EVENT_ADDITIONAL": False,
                    "MESSAGE_ID": str(message),
                    "_object": object_id,
                }
            )

    def take_offline(self, limit: int, clear: bool) -> list[dict[str, Any]]:
        """Up to ``limit`` offline events (``event.offline.get``), removed when ``clear``."""
        with self._lock:
            taken = self.offline[:limit]
            if clear:
                self.offline = self.offline[limit:]
        return [{k: v for k, v in e.items() if not k.startswith("_")} for e in taken]

    def _enqueue(self, outgoing: _Outgoing) -> None:
        with self._idle:
            self._busy += 1
        self._queue.put(outgoing)

    def _record(
        self, event: str, handler: Handler | None, error: str | None, **extra: Any
    ) -> dict[str, Any]:
        entry = {
            "id": next(self._log_ids),
            "event": event,
            "handler": handler.handler if handler else None,
            "event_handler_id": handler.id if handler else None,
            "status": None,
            "error": error,
            "at": self.clock(),
            **extra,
        }
        with self._lock:
            self.log.append(entry)
        return entry

    # --- delivery thread ------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            knobs = self.knobs
            if knobs.reorder:
                deadline = time.monotonic() + knobs.reorder_window
                while True:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    try:
                        extra = self._queue.get(timeout=remaining)
                    except queue.Empty:
                        break
                    if extra is None:
                        self._queue.put(None)
                        break
                    batch.append(extra)
                batch.reverse()
            for outgoing in batch:
                try:
                    self._deliver(outgoing)
                finally:
                    with self._idle:
                        self._busy -= 1
                        self._idle.notify_all()

    def _deliver(self, outgoing: _Outgoing) -> None:
        knobs = self.knobs
        if knobs.delay:
            time.sleep(knobs.delay)
        if knobs.drop_next > 0:
            knobs.drop_next -= 1
            self._record(outgoing.event, outgoing.handler, "dropped (fault knob)")
            return
        body = urlencode(outgoing.pairs)
        for _ in range(1 + max(0, knobs.duplicates)):
            self._post(outgoing, body)

    def _post(self, outgoing: _Outgoing, body: str) -> None:
        request = urllib.request.Request(  # noqa: S310 - handler URLs are http(s) by event.bind
            outgoing.handler.handler,
            data=body.encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "User-Agent": "Bitrix24 Webhook Engine",
            },
            method="POST",
        )
        status: int | None = None
        error: str | None = None
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as failure:
            status, error = failure.code, str(failure)
        except (urllib.error.URLError, OSError) as failure:
            error = str(failure)
        entry = self._record(outgoing.event, outgoing.handler, error, body=body)
        entry["status"] = status

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every queued event was delivered (or dropped); ``False`` on timeout."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._busy > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def stop(self) -> None:
        """Stop the delivery thread."""
        self._queue.put(None)
        self._thread.join(timeout=5)
