"""What a request's several reports all ask for, read once: a page that composes several
(the overview four, the efficiency table and its dynamics two) would otherwise read the
portal's settings, its sellers and its people's names again for each of them."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_read: ContextVar[dict | None] = ContextVar("read_once", default=None)


@contextmanager
def read_once() -> Iterator[None]:
    """Within it, each `remembered` key is read once. Only around reads: a write within it
    would not be seen by a later read of the same key."""
    token = _read.set({})
    try:
        yield
    finally:
        _read.reset(token)


def remembered[T](key: Hashable, read: Callable[[], T]) -> T:
    """`read()`, once per key within `read_once` (every time outside it)."""
    memo = _read.get()
    if memo is None:
        return read()
    if key not in memo:
        memo[key] = read()
    return memo[key]
