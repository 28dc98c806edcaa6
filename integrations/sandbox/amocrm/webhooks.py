"""amoCRM's webhooks: the subscriptions (``/api/v4/webhooks``) and their delivery.

As amoCRM does (AMOCRM.md §5): a form-encoded POST of ``{entity:{action:{i:{fields}}}}`` with every
value a string plus ``account[id]``/``account[subdomain]``/``account[_links][self]``; several items
of one change in one POST; a 2 s timeout; a reply outside 100–299 (or none) fails, and is retried
after 5 and 15 minutes, then — only after a 499 or 5xx — after 15 minutes and 1 hour; a hook with
more than 100 failures in 2 hours whose latest reply failed too is disabled. ``Knobs.time_scale``
shrinks the retry waits for tests (0.001: 5 minutes = 0.3 s); drops, duplicates and reordering
are fault knobs like the Bitrix24 fake's.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

SETTINGS = frozenset(
    [f"{verb}_{entity}" for verb in ("add", "update", "delete")
     for entity in ("lead", "contact", "company", "customer", "task")]
    + ["add_talk", "update_talk", "restore_lead", "restore_contact", "restore_company",
       "status_lead", "add_chat_template_review"]
    + [f"responsible_{e}" for e in ("lead", "contact", "company", "customer", "task")]
    + [f"note_{e}" for e in ("lead", "contact", "company", "customer")]
)  # fmt: skip
MAX_HOOKS = 100
#: Wait before attempts 2..5 (seconds); 4 and 5 only follow a 499 or 5xx.
RETRY_DELAYS = (300, 900, 900, 3600)
DISABLE_FAILURES = 100
DISABLE_WINDOW = 7200


@dataclass
class Hook:
    """One subscription."""

    id: int
    destination: str
    settings: list[str]
    sort: int
    created_at: int
    updated_at: int
    created_by: int
    disabled: bool = False
    failures: deque[float] = field(default_factory=deque)

    def body(self, account_id: int) -> dict[str, Any]:
        """As ``GET /api/v4/webhooks`` lists it."""
        return {
            "id": self.id,
            "destination": self.destination,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "account_id": account_id,
            "created_by": self.created_by,
            "sort": self.sort,
            "disabled": self.disabled,
            "settings": list(self.settings),
        }


@dataclass
class Knobs:
    """Delivery faults and the retry clock."""

    time_scale: float = 1.0
    timeout: float = 2.0
    drop_next: int = 0
    duplicates: int = 0
    reorder: bool = False
    reorder_window: float = 0.3


def flatten(prefix: str, value: Any, pairs: list[tuple[str, str]]) -> None:
    """PHP-style form pairs of a nested value, every leaf a string."""
    if isinstance(value, dict):
        for key, item in value.items():
            flatten(f"{prefix}[{key}]", item, pairs)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            flatten(f"{prefix}[{index}]", item, pairs)
    else:
        pairs.append((prefix, "" if value is None else str(value)))


def form(entity: str, action: str, items: list[dict[str, Any]], account: dict[str, str]) -> bytes:
    """The body of one hook POST: ``entity[action][i][field]=…`` and ``account[…]``."""
    pairs: list[tuple[str, str]] = []
    for index, item in enumerate(items):
        flatten(f"{entity}[{action}][{index}]", item, pairs)
    flatten("account", account, pairs)
    return urlencode(pairs).encode()


@dataclass(order=True)
class _Job:
    due: float
    seq: int
    hook: Hook = field(compare=False)
    body: bytes = field(compare=False)
    setting: str = field(compare=False)
    attempt: int = field(compare=False, default=1)


class HookHub:
    """The account's subscriptions and a delivery thread with a retry schedule."""

    def __init__(self, clock: Callable[[], float], account: Callable[[], dict[str, str]]) -> None:
        self.clock = clock
        self.account = account
        self.hooks: list[Hook] = []
        self.knobs = Knobs()
        self.log: list[dict[str, Any]] = []
        self._ids = itertools.count(1_000_001)
        self._seq = itertools.count()
        self._turns = itertools.count()
        self._lock = threading.Condition()
        self._jobs: list[_Job] = []
        self._busy = 0
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="sandbox-amocrm-hooks", daemon=True)
        self._thread.start()

    # --- subscriptions --------------------------------------------------------------------------
    def upsert(self, destination: str, settings: list[str], sort: int, user_id: int) -> Hook:
        """Subscribe ``destination`` (or update its subscription: amoCRM upserts by URL)."""
        now = int(self.clock())
        with self._lock:
            for hook in self.hooks:
                if hook.destination == destination:
                    hook.settings, hook.sort, hook.updated_at = settings, sort, now
                    hook.disabled = False
                    hook.failures.clear()
                    return hook
            if len(self.hooks) >= MAX_HOOKS:
                raise ValueError(f"at most {MAX_HOOKS} webhooks per account")
            hook = Hook(next(self._ids), destination, settings, sort, now, now, user_id)
            self.hooks.append(hook)
            return hook

    def remove(self, destination: str) -> bool:
        """Unsubscribe; ``False`` when the destination is unknown."""
        with self._lock:
            before = len(self.hooks)
            self.hooks = [h for h in self.hooks if h.destination != destination]
            return len(self.hooks) != before

    def clear(self) -> None:
        """Forget subscriptions, queued deliveries, the log and the knobs."""
        with self._lock:
            self.hooks.clear()
            self._jobs.clear()
            self.log.clear()
            self.knobs = Knobs()
            self._turns = itertools.count()

    # --- sending --------------------------------------------------------------------------------
    def emit(self, setting: str, entity: str, action: str, items: list[dict[str, Any]]) -> None:
        """Queue one POST of ``items`` to every enabled hook subscribed to ``setting``."""
        if not items:
            return
        body = form(entity, action, items, self.account())
        with self._lock:
            for hook in self.hooks:
                if hook.disabled or setting not in hook.settings:
                    continue
                if self.knobs.drop_next > 0:
                    self.knobs.drop_next -= 1
                    self.log.append({"hook": hook.id, "setting": setting, "dropped": True})
                    continue
                copies = 1 + max(0, self.knobs.duplicates)
                for _ in range(copies):
                    # Reordering holds every other POST back so the next one overtakes it.
                    held = self.knobs.reorder and next(self._turns) % 2 == 0
                    delay = self.knobs.reorder_window if held else 0.0
                    job = _Job(time.monotonic() + delay, next(self._seq), hook, body, setting)
                    heapq.heappush(self._jobs, job)
            self._lock.notify_all()

    def _retry_delay(self, attempt: int, status: int) -> float | None:
        """Seconds before the next attempt after ``attempt`` failed with ``status``."""
        if attempt > len(RETRY_DELAYS):
            return None
        if attempt >= 3 and not (status == 499 or status >= 500):
            return None
        return RETRY_DELAYS[attempt - 1] * self.knobs.time_scale

    def _post(self, job: _Job) -> int:
        request = urllib.request.Request(  # noqa: S310 - the subscriber's http(s) URL
            job.hook.destination,
            data=job.body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.knobs.timeout) as response:  # noqa: S310
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)
        except (OSError, ValueError):
            return 0

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._stopped and (
                    not self._jobs or self._jobs[0].due > time.monotonic()
                ):
                    wait = self._jobs[0].due - time.monotonic() if self._jobs else None
                    self._lock.wait(timeout=wait)
                if self._stopped:
                    return
                job = heapq.heappop(self._jobs)
                if job.hook.disabled or job.hook not in self.hooks:
                    # A disabled or removed hook gets nothing already queued.
                    self._lock.notify_all()
                    continue
                self._busy += 1
            status = self._post(job)
            ok = 100 <= status <= 299
            with self._lock:
                self._busy -= 1
                self.log.append(
                    {"hook": job.hook.id, "setting": job.setting, "attempt": job.attempt,
                     "status": status, "ok": ok, "body": job.body.decode()}
                )  # fmt: skip
                if not ok:
                    self._failed(job, status)
                self._lock.notify_all()

    def _failed(self, job: _Job, status: int) -> None:
        hook = job.hook
        now = self.clock()
        hook.failures.append(now)
        while hook.failures and hook.failures[0] < now - DISABLE_WINDOW:
            hook.failures.popleft()
        if len(hook.failures) > DISABLE_FAILURES:
            hook.disabled = True
            return
        delay = self._retry_delay(job.attempt, status)
        if delay is not None and not hook.disabled:
            retry = _Job(time.monotonic() + delay, next(self._seq), hook, job.body, job.setting,
                         job.attempt + 1)  # fmt: skip
            heapq.heappush(self._jobs, retry)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is queued or being sent; ``False`` on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._jobs or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(timeout=left)
            return True

    def stop(self) -> None:
        """Stop the delivery thread."""
        with self._lock:
            self._stopped = True
            self._lock.notify_all()
        self._thread.join(timeout=5)
