"""At most AMOCRM_REQUESTS_PER_SECOND (5) requests a second per amoCRM account, across every
process that calls it.

amoCRM allows 7 a second per integration and blocks an account's API (403 on everything,
lifted only by its support) after repeated 429s (AMOCRM.md §4). So each request takes the
next free slot of its account's schedule, 200 ms (at 5/s) after the previous one, and waits.
The schedule lives in Redis when one is configured (web and workers on many machines share
it), else in a locked file under VAR_DIR (the embedded mode: every process on one machine).
A 429 moves the account's schedule past its `retry_after`, so every process backs off.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import time
from pathlib import Path

import redis
from django.conf import settings

from integrations.errors import CrmError

# Longer than this, a caller is told to come back later rather than kept waiting.
WAIT_LIMIT = 30.0

# Takes the next slot atomically on the server's clock and returns the seconds to wait; a slot
# further off than WAIT_LIMIT is not taken (the caller gives up and must not delay others).
_TAKE_SLOT = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local slot = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), t)
local push = tonumber(ARGV[2])
if push > 0 then
  slot = math.max(slot, t + push)
  redis.call('SET', KEYS[1], string.format('%.6f', slot), 'EX', math.ceil(push) + 60)
  return '0'
end
if slot - t <= tonumber(ARGV[3]) then
  redis.call('SET', KEYS[1], string.format('%.6f', slot + tonumber(ARGV[1])), 'EX', 60)
end
return string.format('%.6f', slot - t)
"""


@functools.cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def _key(account: str) -> str:
    return f"amocrm:rate:{account}"


def _interval() -> float:
    return 1 / settings.AMOCRM_REQUESTS_PER_SECOND


def _redis_schedule(account: str, push: float) -> float:
    script = _redis(settings.REDIS_URL).register_script(_TAKE_SLOT)
    return float(script(keys=[_key(account)], args=[_interval(), push, WAIT_LIMIT]))


def _file_schedule(account: str, push: float) -> float:
    name = hashlib.sha256(account.encode()).hexdigest()[:24]
    path = Path(settings.VAR_DIR) / "amocrm-rate" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        file.seek(0)
        now = time.time()
        slot = max(float(file.read() or 0), now)
        if push > 0:
            slot, wait = max(slot, now + push), 0.0
        elif slot - now <= WAIT_LIMIT:
            slot, wait = slot + _interval(), slot - now
        else:
            wait = slot - now
        file.seek(0)
        file.truncate()
        file.write(f"{slot:.6f}")
    return wait


def _schedule(account: str, push: float = 0.0) -> float:
    if settings.REDIS_URL:
        return _redis_schedule(account, push)
    return _file_schedule(account, push)


def request_slot_wait(account: str) -> None:
    """Block until this account may send its next request."""
    wait = _schedule(account)
    if wait > WAIT_LIMIT:
        message = f"amoCRM asked us to wait {wait:.0f} s before the next request"
        raise CrmError(message, retryable=True)
    if wait > 0:
        time.sleep(wait)


def requests_postpone(account: str, seconds: float) -> None:
    """amoCRM said "too many requests": nobody calls this account for `seconds`."""
    _schedule(account, push=max(seconds, _interval()))
