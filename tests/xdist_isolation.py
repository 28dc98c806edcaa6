"""Each pytest-xdist worker gets a VAR_DIR and a Redis database of its own.

Loaded with ``-p`` (pyproject addopts) so that it runs before pytest-django reads the settings:
the SQLite file, the file cache, the embedded broker's folders and the generated keys all live in
VAR_DIR, and portal ids repeat from one worker's test database to the next, so two workers
sharing either would see each other's cache marks and messages (every test clears the cache,
which on Redis is FLUSHDB, broker queues included). PostgreSQL test databases already get a
``_gwN`` suffix from pytest-django. Worker processes the tests start inherit the environment.
"""

from __future__ import annotations

import os
import re

REDIS_DATABASES = 16  # redis-server's default `databases`


def _own_redis_url(url: str, index: int) -> str:
    """The same server, database `index` places after the configured one (wrapping around)."""
    match = re.fullmatch(r"(rediss?://[^/]*)(?:/(\d*))?(\?.*)?", url)
    if match is None:
        raise RuntimeError(f"pytest-xdist: cannot give each worker a database of {url!r}")
    base, number, query = match.group(1), int(match.group(2) or 0), match.group(3) or ""
    return f"{base}/{(number + index) % REDIS_DATABASES}{query}"


def _isolate(worker: str) -> None:
    index = int(worker.removeprefix("gw"))
    os.environ["VAR_DIR"] = os.path.join(os.environ.get("VAR_DIR", "var"), worker)
    for name in ("REDIS_URL", "CELERY_BROKER_URL"):
        if url := os.environ.get(name):
            os.environ[name] = _own_redis_url(url, index)


if worker := os.environ.get("PYTEST_XDIST_WORKER"):
    _isolate(worker)
