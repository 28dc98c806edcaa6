"""Typed readers for environment variables that fail loudly on bad values.

Settings are read once at start-up; a wrong value must stop the process with a message
that names the variable, instead of surfacing later as an obscure error.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_url(
    name: str,
    default: str = "",
    schemes: tuple[str, ...] = ("http", "https"),
    *,
    exact: bool = False,
) -> str:
    """A URL setting; a base URL loses its trailing slash, an `exact` one (a redirect URI,
    which the CRM compares character by character) is kept as written."""
    value = env_str(name, default)
    if value and (urlsplit(value).scheme not in schemes or not urlsplit(value).netloc):
        allowed = ", ".join(schemes)
        raise ImproperlyConfigured(f"{name} must be a URL with scheme {allowed}, got {value!r}")
    return value if exact else value.rstrip("/")


def database_from_url(url: str, *, sqlite_default: Path) -> dict:
    """Django DATABASES entry for a `postgres://` or `sqlite:///` URL (empty = embedded SQLite)."""
    if not url:
        return _sqlite(sqlite_default)
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return _sqlite(Path(unquote(parts.path)))
    if parts.scheme not in ("postgres", "postgresql"):
        raise ImproperlyConfigured(
            f"DATABASE_URL must start with postgres:// or sqlite:///, got scheme {parts.scheme!r}"
        )
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ImproperlyConfigured("DATABASE_URL must name a database: postgres://host/NAME")
    options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": options,
    }


def _sqlite(path: Path) -> dict:
    path.parent.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        # Web and worker processes share one file: wait for locks instead of failing at once,
        # and take the write lock at BEGIN so two writers never deadlock on lock upgrades.
        "OPTIONS": {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
        "TEST": {"NAME": str(path.with_name(f"test_{path.name}"))},
    }


def persistent_secret(name: str, path: Path, generate) -> str:
    """The variable's value, else a value generated once and kept in `path` (embedded mode only)."""
    value = env_str(name)
    if value:
        return value
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # "x" mode: when web and worker start together, exactly one of them creates the file.
        with path.open("x") as created:
            created.write(generate())
        path.chmod(0o600)
    except FileExistsError:
        pass
    return path.read_text().strip()
