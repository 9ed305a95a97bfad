"""Django settings for Herald, read from the environment (see ``herald.env``).

The embedded default needs no configuration at all: SQLite under ``HERALD_DATA_DIR`` (``./var``),
a secret key generated there on first start, the sandbox mailbox. Production sets
``HERALD_PRODUCTION=1``, ``HERALD_SECRET_KEY``, ``DATABASE_URL`` and ``HERALD_ALLOWED_HOSTS``.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
from django.utils.translation import gettext_lazy as _

from herald.env import ConfigError, env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(env_str("HERALD_DATA_DIR", "var")).resolve()
PRODUCTION = env_bool("HERALD_PRODUCTION", False)
DEBUG = env_bool("HERALD_DEBUG", False)


def _secret_key() -> str:
    key = env_str("HERALD_SECRET_KEY", "")
    if key:
        return key
    if PRODUCTION:
        raise ConfigError(
            "HERALD_SECRET_KEY is not set: production mode needs a long random secret "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(50))'`)"
        )
    # Embedded default: one key per data directory, kept across restarts so sessions survive.
    path = DATA_DIR / "secret_key"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
# Encrypts mailbox passwords and DKIM keys at rest (herald.mailboxes.secrets); derived from
# SECRET_KEY when empty. Set it to rotate the secret key without re-entering mailbox secrets.
ENCRYPTION_KEY = env_str("HERALD_ENCRYPTION_KEY", "")
ALLOWED_HOSTS = env_list("HERALD_ALLOWED_HOSTS", [] if PRODUCTION else ["*"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ConfigError(
        "HERALD_ALLOWED_HOSTS is not set: production mode needs the host names Herald is served "
        "at, comma-separated (e.g. herald.example.com)"
    )
CSRF_TRUSTED_ORIGINS = env_list("HERALD_CSRF_TRUSTED_ORIGINS", [])
# The address recipients' links point at (tracking, unsubscribe); the web's own address by default.
BASE_URL = env_str("HERALD_BASE_URL", "http://127.0.0.1:8000").rstrip("/")


def _database(url: str) -> dict[str, Any]:
    scheme = urlsplit(url).scheme
    if scheme not in {"sqlite", "postgres", "postgresql", "pgsql"}:
        raise ConfigError(
            f"DATABASE_URL scheme {scheme or '(none)'!r} is not supported: "
            "use sqlite:///path/to/herald.sqlite3 or postgres://user@host:5432/dbname"
        )
    try:
        config = dj_database_url.parse(url, conn_max_age=0 if scheme == "sqlite" else 60)
    except ValueError as exc:
        raise ConfigError(f"DATABASE_URL is not a valid database address: {exc}") from None
    if scheme == "sqlite":
        config["OPTIONS"] = {
            # IMMEDIATE takes the write lock at BEGIN, so web and worker queue on busy_timeout
            # instead of failing with "database is locked" when a read transaction upgrades.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                "PRAGMA busy_timeout=20000; PRAGMA foreign_keys=ON;"
            ),
        }
        config["TEST"] = {"NAME": env_str("HERALD_TEST_SQLITE_NAME", "") or None}
    else:
        config["CONN_HEALTH_CHECKS"] = True
        config.setdefault("OPTIONS", {})["connect_timeout"] = 5
    return dict(config)


DATABASES = {
    "default": _database(env_str("DATABASE_URL", "") or f"sqlite:///{DATA_DIR / 'herald.sqlite3'}")
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "ninja",
    "herald.core",
    "herald.accounts",
    "herald.audit",
    "herald.mailboxes",
    "herald.inbound",
    "herald.messaging",
    "herald.contacts",
    "herald.dialer",
    "herald.campaigns",
    "herald.conversations",
    "herald.routing",
    "herald.tracking",
    "herald.webhooks",
    "herald.dispositions",
    "herald.api",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
]

MIDDLEWARE = [
    "herald.core.middleware.RequestIdMiddleware",
    "herald.core.metrics.MetricsMiddleware",
    "herald.core.middleware.ContentSecurityPolicyMiddleware",
    "herald.core.middleware.OutOfRangeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "herald.accounts.middleware.UserLanguageMiddleware",
    "herald.routing.middleware.PresenceMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "herald.accounts.passwords.ForcedChangeMiddleware",
    "herald.api.idempotency.IdempotencyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "herald.urls"
ASGI_APPLICATION = "herald.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "herald.core.context_processors.navigation",
                "herald.routing.context_processors.presence",
            ],
        },
    },
]

AUTH_USER_MODEL = "accounts.User"
# Logins are throttled (django-axes): after HERALD_LOGIN_FAILURES failed attempts on one account,
# or from one address, logging in there waits HERALD_LOGIN_COOLOFF_MINUTES.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("HERALD_LOGIN_FAILURES", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("HERALD_LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_FORM_FIELD = "username"  # the login form's field (it holds the email)
AXES_LOCKOUT_TEMPLATE = "core/locked_out.html"
AXES_VERBOSE = False
# Webhooks: how long delivered messages stay in each endpoint's log (failed ones stay).
WEBHOOK_LOG_DAYS = env_int("HERALD_WEBHOOK_LOG_DAYS", 7, minimum=1)
# Two-factor login (optional per user, herald.accounts.two_factor): the name apps show.
OTP_TOTP_ISSUER = env_str("HERALD_TWO_FACTOR_ISSUER", "Herald")
# Mail Herald sends itself (password resets): through the system mailbox, by the worker.
EMAIL_BACKEND = "herald.mailboxes.system_mail.Backend"
SYSTEM_MAILBOX = env_str("HERALD_SYSTEM_MAILBOX", "")
DEFAULT_FROM_EMAIL = "herald@localhost"
PASSWORD_RESET_TIMEOUT = 3600
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env_int("HERALD_PASSWORD_MIN_LENGTH", 10, minimum=8)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
PASSWORD_HASHERS = env_list(
    "HERALD_PASSWORD_HASHERS", ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
)

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("fr", _("French")), ("it", _("Italian")), ("ar", _("Arabic"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["herald.formats"]  # English: ISO dates, 24-hour times
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# No collectstatic step: WhiteNoise serves the apps' static folders through the finders.
STATIC_ROOT = None
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = DATA_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Pages are served from the app's own static folder without a collectstatic step.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "SAMEORIGIN"
# Production: browsers are told to use HTTPS only (HSTS, one year by default). Behind a proxy
# that ends TLS, HERALD_PROXY_HTTPS_HEADER=1 trusts its X-Forwarded-Proto to tell HTTPS requests.
SECURE_HSTS_SECONDS = env_int("HERALD_HSTS_SECONDS", 31_536_000 if PRODUCTION else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = False  # other sites of the domain are not Herald's to decide
if env_bool("HERALD_PROXY_HTTPS_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# /metrics: with a token, only for "Authorization: Bearer <token>"; without one, only from this
# machine (a Prometheus on the same host, or through a local proxy), unless made public.
METRICS_TOKEN = env_str("HERALD_METRICS_TOKEN", "")
METRICS_PUBLIC = env_bool("HERALD_METRICS_PUBLIC", False)

TASKS = {
    "default": {
        "BACKEND": env_str("HERALD_TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default", "imports", "mail"],
    }
}

# The sandbox mailbox: a local SMTP server started by `herald run` that keeps what it receives.
SANDBOX_SMTP_HOST = env_str("HERALD_SANDBOX_SMTP_HOST", "127.0.0.1")
SANDBOX_SMTP_PORT = env_int("HERALD_SANDBOX_SMTP_PORT", 2525, minimum=0)

# Template attachments: a hard limit on their total size, and a warning above 10 MB (mail servers
# commonly refuse messages above 10 to 25 MB).
TEMPLATE_ATTACHMENTS_MAX_MB = env_int("HERALD_TEMPLATE_ATTACHMENTS_MAX_MB", 20, minimum=1)
TEMPLATE_ATTACHMENTS_WARN_MB = 10

# Scheduled list refreshes: a file path must lie under this folder (nothing else on the server can
# be read through a list); a downloaded file may be this large; REFRESH_CA_FILE adds certificate
# authorities (PEM) to trust for HTTPS addresses, besides the system's.
REFRESH_DIR = Path(env_str("HERALD_REFRESH_DIR", str(DATA_DIR / "refresh"))).resolve()
REFRESH_MAX_MB = env_int("HERALD_REFRESH_MAX_MB", 2048, minimum=1)
REFRESH_CA_FILE = env_str("HERALD_REFRESH_CA_FILE", "")

# DNS servers for the optional MX check of imported domains ("host" or "host:port", comma-
# separated); empty: the system's resolver.
DNS_NAMESERVERS = env_list("HERALD_DNS_NAMESERVERS", [])

# How old the worker's heartbeat may be before /healthz reports the worker as down.
WORKER_HEARTBEAT_SECONDS = env_int("HERALD_WORKER_HEARTBEAT_SECONDS", 5, minimum=1)
WORKER_STALE_SECONDS = env_int("HERALD_WORKER_STALE_SECONDS", 60, minimum=5)

# The dialer. A claimed delivery is held for DIALER_LEASE_SECONDS, renewed every third of it
# while its worker still has it on the wire: if the worker dies, another worker sends it within
# that time (the only way a message goes twice). A worker has at
# most DIALER_BATCH messages sent and not yet recorded (two chunks of half that: one on the wire
# while the previous one is recorded). Temporary failures are retried after each of
# DIALER_RETRY_MINUTES in turn (then every last step), until the campaign's "retry for" hours
# are over.
DIALER_BATCH = env_int("HERALD_DIALER_BATCH", 500, minimum=1)
DIALER_LEASE_SECONDS = env_int("HERALD_DIALER_LEASE_SECONDS", 30, minimum=1)
DIALER_RETRY_MINUTES = [
    float(m) for m in env_list("HERALD_DIALER_RETRY_MINUTES", ["1", "5", "15", "60", "240"])
]

# Inbound mail (herald.inbound). Opt-out keywords: a reply whose subject or first words are one
# of them suppresses its sender (comma-separated; default: herald.inbound.optout's list).
INBOUND_OPTOUT_KEYWORDS = tuple(env_list("HERALD_INBOUND_OPTOUT_KEYWORDS", []))
# N soft bounces of one address within M days suppress it (delay warnings do not count).
INBOUND_SOFT_BOUNCE_LIMIT = env_int("HERALD_INBOUND_SOFT_BOUNCE_LIMIT", 3, minimum=1)
INBOUND_SOFT_BOUNCE_DAYS = env_int("HERALD_INBOUND_SOFT_BOUNCE_DAYS", 7, minimum=1)
# A message larger than this is quarantined with its headers only; a larger attachment is
# listed without its data.
INBOUND_MAX_MESSAGE_MB = env_int("HERALD_INBOUND_MAX_MESSAGE_MB", 25, minimum=1)
INBOUND_MAX_ATTACHMENT_MB = env_int("HERALD_INBOUND_MAX_ATTACHMENT_MB", 10, minimum=1)
# An address gets at most one automatic answer (acknowledgement) per this many hours.
INBOUND_AUTO_REPLY_HOURS = env_int("HERALD_INBOUND_AUTO_REPLY_HOURS", 24, minimum=1)
# A worker reading a mailbox holds it this long without renewing; then another may take it.
INBOUND_LEASE_SECONDS = env_int("HERALD_INBOUND_LEASE_SECONDS", 90, minimum=5)
# An opt-out by reply without Herald's reply token is acted on only when the receiving server
# authenticated the sender (herald.inbound.authentication): the Authentication-Results headers
# of these authserv-ids count (comma-separated); none set: only the topmost header.
INBOUND_TRUSTED_AUTHSERV_IDS = env_list("HERALD_TRUSTED_AUTHSERV_IDS", [])
# Messages fetched per IMAP command (and stored per transaction).
INBOUND_FETCH_BATCH = env_int("HERALD_INBOUND_FETCH_BATCH", 100, minimum=1)
# Tracking (herald.tracking). The open and click endpoints answer in front of Django
# (herald.tracking.fastpath, .protocol); each hit is written to the tracking journal on local disk
# before its answer and recorded in the database by the workers, in batches (.journal). The web
# processes and workers of one machine share the journal's directory. More scanner networks
# (CIDR, comma-separated) label their opens and clicks as machine ones.
TRACKING_FAST_PATH = env_bool("HERALD_TRACKING_FAST_PATH", True)
TRACKING_JOURNAL_DIR = Path(env_str("HERALD_TRACKING_JOURNAL_DIR", str(DATA_DIR / "tracking")))
# A hit is written to the operating system before its answer (it survives Herald being killed)
# and synced within a second (herald.tracking.journal). On: each group of hits is synced to disk
# (fdatasync) before its answers, as a PostgreSQL commit is; about half the requests answered.
TRACKING_JOURNAL_FSYNC = env_bool("HERALD_TRACKING_JOURNAL_FSYNC", False)
TRACKING_BATCH = env_int("HERALD_TRACKING_BATCH", 500, minimum=1)
TRACKING_SCANNER_NETWORKS = env_list("HERALD_TRACKING_SCANNER_NETWORKS", [])

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "herald.core.logs.ContextFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["context"]},
    },
    "root": {"handlers": ["console"], "level": env_str("HERALD_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "uvicorn.access": {"level": "WARNING"},
        "mail.log": {"level": "WARNING"},  # aiosmtpd logs every SMTP command at INFO
    },
}
