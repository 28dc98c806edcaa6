"""Leaky-bucket request limit of a Bitrix24 portal (b24restdocs ``limits.md``).

Every request adds 1 to a counter that drains by ``rate`` per second; a request that would push
the counter above ``capacity`` is refused with 503 ``QUERY_LIMIT_EXCEEDED``. Standard plans have
50 and 2/s.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


def parse_rate_limit(text: str) -> tuple[float, float]:
    """Parse ``"50/2"`` into ``(50.0, 2.0)``."""
    try:
        capacity, rate = (float(part) for part in text.split("/", 1))
    except ValueError as error:
        raise ValueError(f"rate limit must look like X/Y, e.g. 50/2, got {text!r}") from error
    if capacity <= 0 or rate < 0:
        raise ValueError("rate limit X must be positive and Y non-negative")
    return capacity, rate


class LeakyBucket:
    """Thread-safe leaky bucket."""

    def __init__(
        self, capacity: float = 50, rate: float = 2, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.capacity = capacity
        self.rate = rate
        self.clock = clock
        self.level = 0.0
        self._updated = clock()
        self._lock = threading.Lock()

    def configure(self, capacity: float, rate: float) -> None:
        """Change the limits and empty the bucket."""
        with self._lock:
            self.capacity, self.rate, self.level = capacity, rate, 0.0
            self._updated = self.clock()

    def allow(self) -> bool:
        """Count one request; ``False`` when it exceeds the limit (the request is refused)."""
        with self._lock:
            now = self.clock()
            self.level = max(0.0, self.level - (now - self._updated) * self.rate)
            self._updated = now
            if self.level + 1 > self.capacity:
                return False
            self.level += 1
            return True
