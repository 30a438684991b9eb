"""Veloweb settings, read from environment variables (see README.md, "Configuration")."""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.management.utils import get_random_secret_key

from veloweb.filemodes import PRIVATE_FILE, private_dir, private_file, tighten, write_private

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_duration(name: str, default: str) -> float:
    """A Go duration (`24h`, `90m`) in seconds; a bad one stops the start with the reason."""
    from django.core.exceptions import ImproperlyConfigured

    from backups.engine.durations import parse_duration

    text = os.environ.get(name) or default
    try:
        seconds = parse_duration(text)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name}={text!r}: {error}") from None
    if seconds <= 0:
        raise ImproperlyConfigured(f"{name}={text!r}: must be positive")
    return seconds


# The data dir is 0700 and its secrets 0600 (veloweb/filemodes.py), tightened on every start.
DATA_DIR = private_dir(Path(os.environ.get("VELOWEB_DATA_DIR") or BASE_DIR / "var").resolve())
tighten(DATA_DIR / "admin-password.txt", PRIVATE_FILE)  # written by run_dashboard


def _data_dir_secret_key() -> str:
    """The dev secret key: generated once into the data dir (atomically, several processes may race)."""
    path = DATA_DIR / "secret_key"
    if not path.exists():
        tmp = DATA_DIR / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        write_private(tmp, get_random_secret_key(), exclusive=True)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    tighten(path, PRIVATE_FILE)
    return path.read_text().strip()


SECRET_KEY = os.environ.get("SECRET_KEY") or _data_dir_secret_key()
# Former keys, while rotating: sessions and sealed credentials (veloweb/crypto.py) made with them
# still open; credentials are sealed with SECRET_KEY when next saved.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", "")
DEBUG = env_bool("DEBUG")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_rq",
    "django_htmx",
    "axes",
    "rest_framework",
    "drf_spectacular",
    "backups",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "veloweb.audit_middleware.AuditActorMiddleware",  # who and from where, for the audit trail
    "backups.middleware.PasswordChangeRequired",  # a one-time password is changed first
    "veloweb.security.ContentSecurityPolicyMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out sign-in into the lock-out page
]

ROOT_URLCONF = "veloweb.urls"
ASGI_APPLICATION = "veloweb.asgi.application"

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

# Database: DATABASE_URL, else a SQLite file in the data dir. SQLite is tuned for several worker
# processes writing at once (WAL, IMMEDIATE transactions, a 20 s lock timeout).
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'veloweb.sqlite3'}",
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # Created 0600 before SQLite opens it: SQLite gives its -wal and -shm files the same mode.
    _sqlite_file = Path(DATABASES["default"]["NAME"])
    if str(_sqlite_file) != ":memory:" and _sqlite_file.parent.is_dir():
        private_file(_sqlite_file)
        for _suffix in ("-wal", "-shm"):
            tighten(Path(f"{_sqlite_file}{_suffix}"), PRIVATE_FILE)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login throttling (django-axes): VELOWEB_LOGIN_FAILURE_LIMIT failed sign-ins for one username
# from one address lock that pair out for VELOWEB_LOGIN_COOLOFF_MINUTES; `manage.py axes_reset`
# lifts every lock-out. Axes' backend only refuses locked-out attempts; ModelBackend signs in.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env_bool("VELOWEB_LOGIN_THROTTLING", True)
AXES_FAILURE_LIMIT = int(os.environ.get("VELOWEB_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("VELOWEB_LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "veloweb.security.lockout_response"

# Single sign-on (OpenID Connect, mozilla-django-oidc) beside local users, from VELOWEB_OIDC_*
# (veloweb/oidc_settings.py, README "Single sign-on"); off when VELOWEB_OIDC_CLIENT_ID is unset.
from veloweb.oidc_settings import oidc_settings  # noqa: E402

globals().update(oidc_settings())
if VELOWEB_OIDC_ENABLED:  # noqa: F821 - set just above
    INSTALLED_APPS.append("mozilla_django_oidc")
    AUTHENTICATION_BACKENDS.append("backups.services.sso.VelowebOIDCBackend")

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Static files are served by the ASGI app itself (veloweb/asgi.py), also under uvicorn.
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"

# Redis: REDIS_URL, else the embedded server that `manage.py run_dashboard` starts in the data dir.
REDIS_URL = os.environ.get("REDIS_URL") or f"unix://{DATA_DIR / 'redis' / 'redis.sock'}?db=0"

RQ_QUEUES = {
    "default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 600},
    "blocks": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 600},
    "notifications": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 120},
}

# socket_timeout=None: redis-py 8 defaults to 5 s, which breaks channels-redis' blocking reads.
# Progress messages are lossy above `capacity` per channel; the real state lives in the DB.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": None}], "capacity": 1000},
    }
}

# The default cluster. When VELOWEB_KUBECONFIG is unset, run_dashboard starts the Kubernetes API
# emulator with the bundled sample cluster and registers it instead.
VELOWEB_KUBECONFIG = os.environ.get("VELOWEB_KUBECONFIG", "")
VELOWEB_KUBE_CONTEXT = os.environ.get("VELOWEB_KUBE_CONTEXT", "")
VELOWEB_WORKERS = int(os.environ.get("VELOWEB_WORKERS", "2"))
VELOWEB_HOST = os.environ.get("VELOWEB_HOST", "127.0.0.1")
VELOWEB_PORT = int(os.environ.get("VELOWEB_PORT", "8000"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "axes": {"level": "WARNING"},  # failed sign-ins and lock-outs; not every success and banner
    },
}

# Backups: staging (spool, plan, block members) must be shared by the dashboard and every worker.
VELOWEB_STAGING_DIR = Path(os.environ.get("VELOWEB_STAGING_DIR") or DATA_DIR / "staging").resolve()
# Where backups go when no storage location is chosen: a local folder laid out like Velero's bucket.
VELOWEB_DEFAULT_STORAGE_DIR = Path(os.environ.get("VELOWEB_STORAGE_DIR") or DATA_DIR / "storage").resolve()
VELOWEB_MAX_RUNNING_BACKUPS = int(os.environ.get("VELOWEB_MAX_RUNNING_BACKUPS", "2"))
# A batch whose worker stops renewing its lease for this long is handed to another worker.
VELOWEB_BATCH_LEASE_SECONDS = float(os.environ.get("VELOWEB_BATCH_LEASE_SECONDS", "60"))
# Blocks are grouped into RQ jobs of about this many items (one job per block when blocks are big).
VELOWEB_BATCH_ITEMS = int(os.environ.get("VELOWEB_BATCH_ITEMS", "200"))
# A batch job claims further batches of its backup until it has run this long, then hands over to
# a fresh job (RQ's job timeout bounds a job, and a long-lived work horse would only grow).
VELOWEB_BATCH_JOB_SECONDS = float(os.environ.get("VELOWEB_BATCH_JOB_SECONDS", "600"))
# RQ's CronScheduler (`manage.py run_cron`): the schedule tick (Velero checks schedules every
# minute) and expiry (Velero's --garbage-collection-frequency, 1h), in seconds.
VELOWEB_SCHEDULE_INTERVAL = int(os.environ.get("VELOWEB_SCHEDULE_INTERVAL", "60"))
VELOWEB_GC_INTERVAL = int(os.environ.get("VELOWEB_GC_INTERVAL", "3600"))
# Previews (DATA_DIR/previews/) are removed by the expiry job this long after they were asked for;
# one still queued or running only after PREVIEW_STALE_FACTOR times as long (its job is dead then).
VELOWEB_PREVIEW_TTL = env_duration("VELOWEB_PREVIEW_TTL", "24h")
# Notifications (backups/services/notifications.py): a failed delivery is tried again after each
# of these delays in seconds (comma-separated; RQ's scheduler in the workers runs the retries).
VELOWEB_NOTIFY_RETRY_SECONDS = [
    int(s) for s in env_list("VELOWEB_NOTIFY_RETRY_SECONDS", "10,60,300,1800") if s.isdigit()
]
# The backup page's WebSocket checks its session and role again this often (and on every message).
VELOWEB_WS_RECHECK_SECONDS = float(os.environ.get("VELOWEB_WS_RECHECK_SECONDS", "60"))

# Prometheus' /metrics (backups/metrics/access.py): closed unless a bearer token is set or the
# scraper's address is in the allow-list (addresses and networks, comma-separated).
VELOWEB_METRICS_TOKEN = os.environ.get("VELOWEB_METRICS_TOKEN", "").strip()
VELOWEB_METRICS_ALLOW = env_list("VELOWEB_METRICS_ALLOW", "")


def _check_networks(name: str, items: list[str]) -> None:
    import ipaddress

    from django.core.exceptions import ImproperlyConfigured

    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {item!r} is not an address or network") from None


_check_networks("VELOWEB_METRICS_ALLOW", VELOWEB_METRICS_ALLOW)

# The JSON API, /api/v1/ (backups/api/): per-user tokens made in Settings > API tokens, JSON only,
# pages of 50 (page_size up to 500), every error as {"error": {"code", "message", "fields"}}.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["backups.api.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["backups.api.permissions.IsViewer"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "backups.api.pagination.Pagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "backups.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Veloweb API",
    "DESCRIPTION": "Backups of Kubernetes clusters in Velero's format: what the dashboard does, as JSON. "
    "Authenticate with `Authorization: Bearer <token>` (Settings > API tokens); the token acts with its "
    "user's role (viewer reads, operator also creates, cancels and deletes).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {"BackupPhaseEnum": "backups.models.Backup.Phase"},
}

# HTTP security. Always: X-Content-Type-Options, Referrer-Policy, X-Frame-Options DENY, COOP and a
# Content-Security-Policy allowing only the dashboard's own scripts, styles and WebSocket
# (veloweb/security.py). Behind TLS, VELOWEB_HTTPS=1 makes cookies secure and redirects HTTP to
# HTTPS; VELOWEB_PROXY_SSL_HEADER names the header a TLS-terminating proxy sets to "https" (e.g.
# X-Forwarded-Proto), trusted only then; HSTS is an opt-in (VELOWEB_HSTS_SECONDS > 0).
VELOWEB_HTTPS = env_bool("VELOWEB_HTTPS")
SECURE_SSL_REDIRECT = SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = VELOWEB_HTTPS
if os.environ.get("VELOWEB_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = (
        "HTTP_" + os.environ["VELOWEB_PROXY_SSL_HEADER"].strip().upper().replace("-", "_"),
        "https",
    )
SECURE_HSTS_SECONDS = int(os.environ.get("VELOWEB_HSTS_SECONDS", "0")) if VELOWEB_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("VELOWEB_HSTS_INCLUDE_SUBDOMAINS")
SECURE_HSTS_PRELOAD = env_bool("VELOWEB_HSTS_PRELOAD")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# HSTS is decided by the VELOWEB_HSTS_* variables (README, deploy checklist): `check --deploy`
# need not remind of a part left off on purpose.
SILENCED_SYSTEM_CHECKS = [
    *([] if SECURE_HSTS_SECONDS else ["security.W004"]),
    *([] if SECURE_HSTS_INCLUDE_SUBDOMAINS else ["security.W005"]),
    *([] if SECURE_HSTS_PRELOAD else ["security.W021"]),
]
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Signing out of Veloweb also signs out of the SSO provider: the sign-out form's redirect goes there.
if VELOWEB_OIDC_ENABLED and VELOWEB_OIDC_END_SESSION_ENDPOINT:  # noqa: F821 - set by oidc_settings()
    from urllib.parse import urlsplit as _urlsplit

    _end = _urlsplit(VELOWEB_OIDC_END_SESSION_ENDPOINT)  # noqa: F821
    CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace(
        "form-action 'self'", f"form-action 'self' {_end.scheme}://{_end.netloc}"
    )
# django-rq's queue pages (admins only) carry inline scripts and styles of their own.
CONTENT_SECURITY_POLICY_EXCEPTIONS = {
    "/rq/": CONTENT_SECURITY_POLICY.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'").replace(
        "style-src 'self'", "style-src 'self' 'unsafe-inline'"
    ),
}
