"""Settings, read from the environment (see .env.example for every variable).

No variables set = embedded mode: SQLite in WAL mode, an in-memory channel layer and
runs executed by a thread pool inside the server process. `DATABASE_URL` switches to
PostgreSQL and `REDIS_URL` to Redis (Celery broker + channels-redis layer + Celery
workers executing runs).
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_choice, env_int, env_list, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("APPS_DATA_DIR") or BASE_DIR / "data")
try:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
except OSError as exc:
    raise ImproperlyConfigured(
        f"APPS_DATA_DIR={str(DATA_DIR)!r} cannot be used as the data directory: {exc.strerror}."
    ) from None


def _secret_key() -> str:
    key = env_str("DJANGO_SECRET_KEY")
    if key:
        return key
    # Embedded default: a random key kept in the data dir, so sessions survive restarts
    # and no secret is committed.
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        from django.core.management.utils import get_random_secret_key

        key_file.write_text(get_random_secret_key())
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",  # first: `manage.py runserver` then serves ASGI, like production
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "published_apps",
    "coding_agent",
    "sandbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

# --- Database ------------------------------------------------------------------------
# Read whether or not they apply here, so a typo fails on every machine alike.
DB_POOL = env_bool("APPS_DB_POOL", False)
DB_POOL_SIZE = env_int("APPS_DB_POOL_SIZE", 20, minimum=2)
DATABASE_URL = env_url("DATABASE_URL", schemes=("postgres", "postgresql", "sqlite"))
SQLITE_OPTIONS = {
    # WAL lets readers (streams) run while a run writes; IMMEDIATE takes the write lock
    # up front so concurrent writers queue on the busy timeout instead of failing a
    # lock upgrade.
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    "transaction_mode": "IMMEDIATE",
    "timeout": 30,
}
if DATABASE_URL:
    # CONN_MAX_AGE=0: persistent connections leak under ASGI (each request may run on a
    # different thread), and Celery closes them around every task anyway.
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
    if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        DATABASES["default"]["OPTIONS"] = SQLITE_OPTIONS
    else:
        # One test database per test process, so concurrent test runs never drop each other's.
        DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}
        # Sessions start in TIME_ZONE, so Django need not send SET TIME ZONE on every new
        # connection (one per request and per task with CONN_MAX_AGE=0).
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c TimeZone=UTC")
        # Pooled connections are checked when taken (Django passes psycopg_pool's check on
        # this flag), so one the server dropped is replaced instead of failing a request.
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
        if DB_POOL:
            # A connection pool for processes that never fork (config/asgi.py turns it on for
            # the server): a new PostgreSQL connection per request or stream read costs ~4 ms,
            # and a new server process starts with cold caches. Celery's prefork parent must
            # not hand one down, so it is off by default; each child turns on its own after
            # the fork (coding_agent/tasks.py).
            DATABASES["default"]["OPTIONS"]["pool"] = {
                "min_size": 1,
                "max_size": DB_POOL_SIZE,
                "timeout": 30,
            }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "db.sqlite3",
            "OPTIONS": SQLITE_OPTIONS,
            # A file (not memory) so server processes started by tests share it; one per
            # test process so concurrent test runs never share one.
            "TEST": {"NAME": str(DATA_DIR / f"test-db-{os.getpid()}.sqlite3")},
        }
    }
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, channel layer, Celery ------------------------------------------------------
REDIS_URL = env_url("REDIS_URL", schemes=("redis", "rediss"))
EMBEDDED = REDIS_URL is None

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # The layer drops messages silently past `capacity`; 1000 absorbs bursts.
            # Listeners re-read the database after every wake-up, so a drop loses nothing.
            "CONFIG": {"hosts": [REDIS_URL], "capacity": 1000, "expiry": 60},
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 1000}}
    }

# How runs execute: Celery workers on Redis, or a thread pool inside the server process.
RUN_EXECUTION = env_str("APPS_RUN_EXECUTION") or ("celery" if REDIS_URL else "inprocess")
if RUN_EXECUTION not in ("celery", "inprocess"):
    raise ImproperlyConfigured(f"APPS_RUN_EXECUTION must be 'celery' or 'inprocess', got {RUN_EXECUTION!r}.")
INPROCESS_WORKERS = env_int("APPS_INPROCESS_WORKERS", 3, minimum=1, maximum=32)

RUN_LEASE_SECONDS = env_int("APPS_RUN_LEASE_SECONDS", 30, minimum=2)
RUN_MAX_ATTEMPTS = env_int("APPS_RUN_MAX_ATTEMPTS", 3, minimum=1)
RUN_MAX_SECONDS = env_int("APPS_RUN_MAX_SECONDS", 3600, minimum=10)
RUN_REQUEUE_SECONDS = env_int("APPS_RUN_REQUEUE_SECONDS", 60, minimum=1)

CELERY_BROKER_URL = REDIS_URL or "memory://"
# kombu's Redis transport with one fix for surviving a Redis restart (see config/celery.py).
CELERY_BROKER_TRANSPORT = "config.celery:RedisTransport" if REDIS_URL else None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A task unacknowledged past the visibility timeout is redelivered even while it
    # still runs, so it must exceed the longest run; the run lease keeps two workers
    # from executing one run in any case.
    "visibility_timeout": RUN_MAX_SECONDS + 600,
    # Redeliver a killed worker's task after ~10 s instead of ~100 s.
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 1,
}
CELERY_TASK_DEFAULT_QUEUE = env_str("APPS_CELERY_QUEUE", "coding-agent")

# --- Coding agent (DESIGN.md §6) ---------------------------------------------------------
APPS_CODING_AGENT_MAX_TOOL_ITERATIONS = env_int("APPS_CODING_AGENT_MAX_TOOL_ITERATIONS", 8, minimum=1)
APPS_CODING_AGENT_TOOL_TIMEOUT_S = env_int("APPS_CODING_AGENT_TOOL_TIMEOUT_S", 120, minimum=1)
APPS_CODING_AGENT_MESSAGE_BUDGET_CHARS = env_int(
    "APPS_CODING_AGENT_MESSAGE_BUDGET_CHARS", 60000, minimum=1000
)
APPS_CODING_AGENT_ENABLE_LEGACY_WRITE_FILE = env_bool("APPS_CODING_AGENT_ENABLE_LEGACY_WRITE_FILE", False)
APPS_CODING_AGENT_AUTO_VERIFY_PATCH = env_bool("APPS_CODING_AGENT_AUTO_VERIFY_PATCH", False)
APPS_CODING_AGENT_OPENCODE_URL = env_url("APPS_CODING_AGENT_OPENCODE_URL", schemes=("http", "https"))
APPS_PUBLISH_BASE_URL = env_url("APPS_PUBLISH_BASE_URL", schemes=("http", "https"), base=True)
WORKSPACES_DIR = Path(env_str("APPS_WORKSPACES_DIR") or DATA_DIR / "workspaces")
SANDBOX_MAX_FILE_BYTES = env_int("APPS_SANDBOX_MAX_FILE_BYTES", 1024 * 1024, minimum=1024)
CHECKPOINTER_SQLITE_PATH = DATA_DIR / "langgraph.sqlite3"

# --- Auth, API ----------------------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "app_list"
LOGOUT_REDIRECT_URL = "login"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its WWW-Authenticate header makes a missing login a 401, not a 403.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "config.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Coding Agent Runtime API",
    "DESCRIPTION": "Build published apps by chatting with a coding agent. Contract: DESIGN.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Served from the sidecar package so the docs page works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- I18N, static -----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
# Serve static files from the app directories without collectstatic (embedded mode).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

SESSION_COOKIE_HTTPONLY = True
# Served over HTTPS (directly, or behind a proxy that terminates TLS and sets
# X-Forwarded-Proto): cookies only over HTTPS, and the proxy's word on the scheme, so
# CSRF checks the https origin the browser sends. HSTS only when asked for: it outlives
# a rollback to plain HTTP in every browser that saw it.
HTTPS = env_bool("DJANGO_HTTPS", False)
if HTTPS:
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0, minimum=0)
X_FRAME_OPTIONS = "SAMEORIGIN"  # the builder frames its own preview

LOG_LEVEL = env_choice("APPS_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
# Per-request or per-message INFO lines from libraries: a line per model request (httpx,
# and httpx2 under the OpenAI client), per retry of one (the OpenAI and Anthropic clients)
# and per full channel in a burst (channels_redis). Shown only when asking for DEBUG.
_CHATTY_LEVEL = "DEBUG" if LOG_LEVEL == "DEBUG" else "WARNING"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        name: {"level": _CHATTY_LEVEL}
        for name in (
            "django.channels.server",
            "daphne",
            "httpx",
            "httpx2",
            "openai._base_client",
            "anthropic._base_client",
            "channels_redis",
        )
    },
}
