"""Settings, all read from the environment (see README "Configuration").

Embedded default (no DATABASE_URL / REDIS_URL): SQLite in var/ and a Celery broker kept in
files under var/broker, so `make demo` needs no server. With the variables set: PostgreSQL
through psycopg 3 and Redis as broker, result backend and cache.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from celery.schedules import crontab
from cryptography.fernet import Fernet
from csp.constants import NONCE as csp_NONCE
from django.core.exceptions import ImproperlyConfigured
from kombu.transport import TRANSPORT_ALIASES

from crmapp.env import (
    database_from_url,
    env_bool,
    env_int,
    env_list,
    env_str,
    env_url,
    persistent_secret,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = (BASE_DIR / env_str("VAR_DIR", "var")).resolve()

DATABASE_URL = env_str("DATABASE_URL")
REDIS_URL = env_url("REDIS_URL", schemes=("redis", "rediss"))
EMBEDDED = not DATABASE_URL and not REDIS_URL

DEBUG = env_bool("DEBUG", default=False)

if EMBEDDED:
    SECRET_KEY = persistent_secret(
        "SECRET_KEY", VAR_DIR / "secret_key", lambda: secrets.token_urlsafe(50)
    )
    FIELD_ENCRYPTION_KEY = persistent_secret(
        "FIELD_ENCRYPTION_KEY",
        VAR_DIR / "field_encryption_key",
        lambda: Fernet.generate_key().decode(),
    )
else:
    # With a real database, a generated key would be lost with the machine, and with it every
    # stored token: require both explicitly.
    SECRET_KEY = env_str("SECRET_KEY")
    FIELD_ENCRYPTION_KEY = env_str("FIELD_ENCRYPTION_KEY")
    for _name, _value in (
        ("SECRET_KEY", SECRET_KEY),
        ("FIELD_ENCRYPTION_KEY", FIELD_ENCRYPTION_KEY),
    ):
        if not _value:
            raise ImproperlyConfigured(f"{_name} is required when DATABASE_URL or REDIS_URL is set")

# Comma-separated Fernet keys: the first encrypts, all decrypt (key rotation).
FIELD_ENCRYPTION_KEYS = [key.strip() for key in FIELD_ENCRYPTION_KEY.split(",") if key.strip()]
for _key in FIELD_ENCRYPTION_KEYS:
    try:
        Fernet(_key)
    except ValueError:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY must be Fernet keys (32 url-safe base64-encoded bytes), "
            "comma-separated; generate one with "
            '`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key())"`'
        ) from None

PUBLIC_URL = env_url("PUBLIC_URL", "http://127.0.0.1:8000")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
_public_host = PUBLIC_URL.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0]
if _public_host not in ALLOWED_HOSTS:
    ALLOWED_HOSTS.append(_public_host)
CSRF_TRUSTED_ORIGINS = [PUBLIC_URL]
if PUBLIC_URL.startswith("https://"):
    # Served behind a TLS-terminating proxy: trust its X-Forwarded-Proto, pin browsers to
    # https for a year and never send cookies (Django admin's) over plain http.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = False  # the app's host only: its parent may serve http
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True

BITRIX24_CLIENT_ID = env_str("BITRIX24_CLIENT_ID")
BITRIX24_CLIENT_SECRET = env_str("BITRIX24_CLIENT_SECRET")
BITRIX24_OAUTH_URL = env_url("BITRIX24_OAUTH_URL", "https://oauth.bitrix.info")
# The CRM's JS API inside our iframe (BX24.installFinish, openPath, fitWindow).
BITRIX24_JS_API_URL = env_str("BITRIX24_JS_API_URL", "https://api.bitrix24.com/api/v1/")
AMOCRM_CLIENT_ID = env_str("AMOCRM_CLIENT_ID")
AMOCRM_CLIENT_SECRET = env_str("AMOCRM_CLIENT_SECRET")
# Our integration's registered redirect URI (the install callback), exactly as amoCRM has it.
AMOCRM_REDIRECT_URI = env_url(
    "AMOCRM_REDIRECT_URI", f"{PUBLIC_URL}/amocrm/oauth/callback/", exact=True
)
# amoCRM allows 7 requests/s per integration and blocks accounts that overrun: each account
# gets at most this many, across all processes.
AMOCRM_REQUESTS_PER_SECOND = env_int("AMOCRM_REQUESTS_PER_SECOND", 5)
# The hosts an install's `referer` may name: our client secret is sent only to them.
AMOCRM_ACCOUNT_HOSTS = env_list("AMOCRM_ACCOUNT_HOSTS", ["amocrm.ru", "amocrm.com", "kommo.com"])
# Origins allowed to frame the app besides the portal's own domain (the sandbox CRM host page).
FRAME_ANCESTORS_EXTRA = env_list("FRAME_ANCESTORS_EXTRA", [])
# Scripts only from us, the CRM's JS API and inline blocks carrying the response's nonce; no
# plugins, no <base>. Framing: nobody, except the portal's own CRM on its pages
# (crmapp/framing.py replaces frame-ancestors there).
_js_api = BITRIX24_JS_API_URL.split("://", 1)
_js_api_origin = f"{_js_api[0]}://{_js_api[1].split('/', 1)[0]}" if len(_js_api) == 2 else ""
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "script-src": ["'self'", *([_js_api_origin] if _js_api_origin else []), csp_NONCE],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
    }
}
# The sandbox CRM whose host page /crm-host/ frames the app (demo and tests only).
SANDBOX_INFO_FILE = env_str("SANDBOX_INFO_FILE")
SANDBOX_INFO: dict | None = None
# The same for a sandbox amoCRM account (its host page is /crm-host/amocrm/).
AMOCRM_SANDBOX_INFO_FILE = env_str("AMOCRM_SANDBOX_INFO_FILE")
AMOCRM_SANDBOX_INFO: dict | None = None

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_htmx",
    "csp",
    "crmapp",
    "integrations",
    "webhooks",
    "reports",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "crmapp.security.NoStoreMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "crmapp.urls"
WSGI_APPLICATION = "crmapp.wsgi.application"


def _crm_folder_dirs(kind: str) -> list[Path]:
    return sorted(path for path in (BASE_DIR / "integrations").glob(f"*/{kind}") if path.is_dir())


TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Each CRM folder (integrations/<crm>/) keeps its own templates and static files.
        "DIRS": _crm_folder_dirs("templates"),
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": database_from_url(DATABASE_URL, sqlite_default=VAR_DIR / "db.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Covering indexes (INCLUDE) serve PostgreSQL; on the embedded SQLite they are plain indexes,
# which is all it needs.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    # Shared by web and worker processes, unlike the per-process local-memory cache.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

LANGUAGE_CODE = "ru"
LANGUAGES = [("ru", "Русский"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = _crm_folder_dirs("static")
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Served by WhiteNoise from the apps' static folders, so web needs no separate file server.
WHITENOISE_USE_FINDERS = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CRM sales reports API",
    "DESCRIPTION": "The data behind every report page, per portal.",
    "VERSION": "1",
}

# Celery. Embedded: kombu's filesystem transport, so web and worker processes exchange
# messages through var/broker without a server.
BROKER_DIR = VAR_DIR / "broker"
# The embedded broker's transport (crmapp/broker.py), known by name in every process.
TRANSPORT_ALIASES["appfs"] = "crmapp.broker:Transport"
# A broker of its own (CELERY_BROKER_URL) is optional; by default it is the Redis of REDIS_URL.
CELERY_BROKER_URL = env_url("CELERY_BROKER_URL", schemes=("redis", "rediss")) or REDIS_URL
if not CELERY_BROKER_URL:
    for _folder in ("out", "processed", "control"):
        (BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "appfs://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "out"),
        "data_folder_out": str(BROKER_DIR / "out"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        # The transport polls its folder; the default second would add a second per chunk.
        "polling_interval": 0.1,
    }
CELERY_RESULT_BACKEND = None  # tasks report through the database, not through results
# One queue for everything; a separate name lets tests (or a second deployment) share a broker.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "celery")
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "portals-purge-uninstalled": {
        "task": "crmapp.tasks.portals_purge_uninstalled",
        "schedule": 3600.0,
    },
    "inbox-sweep": {
        "task": "webhooks.tasks.inbox_sweep",
        "schedule": 30.0,
    },
    "portals-reconcile": {
        "task": "integrations.tasks.portals_reconcile",
        "schedule": 300.0,
    },
    "portals-reconcile-deletions": {
        "task": "integrations.tasks.portals_reconcile",
        "schedule": 24 * 3600.0,
        "kwargs": {"deletions": True},
    },
    "portals-import-resume": {
        "task": "integrations.tasks.portals_import_resume",
        "schedule": 60.0,
    },
    "portals-digest": {
        "task": "reports.tasks.portals_digest",
        "schedule": 300.0,
    },
    # Nightly (UTC): the paid state first, so a renewal is seen before the purge.
    "portals-paid-state-refresh": {
        "task": "integrations.tasks.portals_paid_state_refresh",
        "schedule": crontab(hour=1, minute=30),
    },
    "portals-history-purge": {
        "task": "crmapp.tasks.portals_history_purge",
        "schedule": crontab(hour=2, minute=30),
    },
    "portals-facts-check": {
        "task": "reports.tasks.portals_facts_check",
        "schedule": 6 * 3600.0,
    },
}

# An inbox row claimed by a worker that has not settled it for this long is taken over (the
# worker died); keep it well above the time a batch of events takes to apply.
INBOX_CLAIM_TIMEOUT_SECONDS = env_int("INBOX_CLAIM_TIMEOUT_SECONDS", 120)

# The subscription a paid Bitrix24 app is (app.info has no plan, only STATUS P and DAYS left):
# subscription-12 or subscription-24.
BITRIX24_PAID_TIER = env_str("BITRIX24_PAID_TIER", "subscription-12")
if BITRIX24_PAID_TIER not in ("subscription-12", "subscription-24"):
    raise ImproperlyConfigured("BITRIX24_PAID_TIER must be subscription-12 or subscription-24")

# Uninstalled portals keep their data this long, so a reinstall finds everything as it was.
UNINSTALL_RETENTION_DAYS = env_int("UNINSTALL_RETENTION_DAYS", 30)
