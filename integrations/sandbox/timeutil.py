"""Date/time formatting the way Bitrix24 REST renders it (ISO-8601 with the portal's offset)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

PORTAL_TZ = ZoneInfo("Europe/Moscow")

_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_RU_DATE_RE = re.compile(r"^(\d{2})\.(\d{2})\.(\d{4})(?:\s+(\d{2}):(\d{2})(?::(\d{2}))?)?$")


def format_ts(ts: float) -> str:
    """Render a unix timestamp as Bitrix24 does: ``2024-08-30T14:29:00+03:00``."""
    return datetime.fromtimestamp(int(ts), tz=PORTAL_TZ).isoformat(timespec="seconds")


def format_date(ts: float) -> str:
    """Render the date part of ``ts`` as a Bitrix24 ``date`` field (local midnight with offset)."""
    day = datetime.fromtimestamp(int(ts), tz=PORTAL_TZ).date()
    return datetime.combine(day, time(), tzinfo=PORTAL_TZ).isoformat(timespec="seconds")


def parse_datetime(value: str) -> datetime | None:
    """Parse the date formats Bitrix24 accepts in filters and fields; ``None`` if unparseable."""
    text = value.strip()
    if not text:
        return None
    match = _RU_DATE_RE.match(text)
    if match:
        day, month, year, hour, minute, second = match.groups()
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=PORTAL_TZ,
        )
    if _DATE_RE.match(text):
        return datetime.combine(date.fromisoformat(text), time(), tzinfo=PORTAL_TZ)
    try:
        parsed = datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=PORTAL_TZ)
    return parsed


def normalize_datetime(value: str) -> str | None:
    """``value`` as a canonical portal-time ISO string (text-comparable with stored values)."""
    parsed = parse_datetime(value)
    if parsed is None:
        return None
    return parsed.astimezone(PORTAL_TZ).isoformat(timespec="seconds")


def to_ts(value: str) -> float:
    """Unix timestamp of an ISO string produced by :func:`format_ts`."""
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValueError(f"not a datetime: {value!r}")
    return parsed.timestamp()


def default_anchor() -> float:
    """Today 00:00 in the portal's time zone as a timestamp (the generator's default ``now``)."""
    today = datetime.now(tz=PORTAL_TZ).date()
    return datetime.combine(today, time(), tzinfo=PORTAL_TZ).timestamp()


def day_start(ts: float) -> float:
    """Local midnight of the day containing ``ts``."""
    local = datetime.fromtimestamp(ts, tz=PORTAL_TZ)
    return datetime.combine(local.date(), time(), tzinfo=PORTAL_TZ).timestamp()


def weekday(ts: float) -> int:
    """Local weekday of ``ts`` (Monday is 0)."""
    return datetime.fromtimestamp(ts, tz=PORTAL_TZ).weekday()


def utc_now() -> datetime:
    """Current UTC time (a seam for tests)."""
    return datetime.now(tz=UTC)


DAY = timedelta(days=1).total_seconds()
