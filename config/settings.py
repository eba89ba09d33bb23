"""Settings for every environment, configured by environment variables.

The defaults give the embedded mode: SQLite in WAL mode and Celery over kombu's
filesystem transport, everything under var/. Production sets DATABASE_URL
(PostgreSQL), CELERY_BROKER_URL (Redis), SECRET_KEY and ALLOWED_HOSTS.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from portfolio.runner import broker
from portfolio.runner.protocol import TASK_TIME_LIMIT_S

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be 1/0, true/false, yes/no or on/off, not {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


def database_from_url(url: str) -> dict[str, object]:
    """Turn DATABASE_URL into a DATABASES entry (sqlite:///path or postgres://...)."""
    parsed = urlparse(url)
    options = dict(parse_qsl(parsed.query))
    if parsed.scheme == "sqlite":
        # sqlite:////absolute/path, sqlite:///relative/to/the/project, sqlite:// (memory)
        path = unquote(parsed.path)
        if path.startswith("//"):
            name = path[1:]
        elif path.strip("/") in ("", ":memory:"):
            name = ":memory:"
        else:
            name = str(BASE_DIR / path.lstrip("/"))
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": name,
            "OPTIONS": {
                # The web server and the Django worker write at the same time:
                # WAL lets readers proceed and IMMEDIATE takes the write lock up
                # front instead of failing half-way with "database is locked".
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    if parsed.scheme in ("postgres", "postgresql", "pgsql"):
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parsed.path.lstrip("/")),
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            # Persistent connections; health checks drop the ones that died.
            "CONN_MAX_AGE": env_int("DATABASE_CONN_MAX_AGE", 60),
            "CONN_HEALTH_CHECKS": True,
            # An unreachable server fails a request (and /readyz) in seconds, not after TCP's minutes.
            "OPTIONS": {"connect_timeout": 5, **options},
        }
    raise ImproperlyConfigured(f"DATABASE_URL must start with sqlite:// or postgres://, not {parsed.scheme}://")


TESTING = "pytest" in sys.modules
DEBUG = env_bool("DEBUG", False)

# Production sets SECRET_KEY. `make run` generates one once into var/secret-key (bin/generate-keys,
# mode 0600) and every process of the checkout reads it from there, so `manage.py` works without it.
SECRET_KEY_FILE = VAR_DIR / "secret-key"
SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY and SECRET_KEY_FILE.is_file():
    SECRET_KEY = SECRET_KEY_FILE.read_text().strip()
if not SECRET_KEY:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured(
            "SECRET_KEY is required when DEBUG is off. Set SECRET_KEY to a long random string "
            '(python -c "import secrets; print(secrets.token_urlsafe(50))"), run `make run` once '
            f"(it writes one to {SECRET_KEY_FILE}), or set DEBUG=1 for local work."
        )
    SECRET_KEY = "django-insecure-local-development-only"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000")

# Gate credentials are signed with Ed25519 (assessments/credentials.py). In production set
# CREDENTIAL_SIGNING_KEY to a PEM private key, the same on every web host; without it a key is
# generated once into the file below (mode 0600). Never commit either.
CREDENTIAL_SIGNING_KEY = env("CREDENTIAL_SIGNING_KEY")
CREDENTIAL_SIGNING_KEY_FILE = Path(env("CREDENTIAL_SIGNING_KEY_FILE", str(VAR_DIR / "credential-signing-key.pem")))

INSTALLED_APPS = [
    "accounts",
    "roadmap",
    "portfolio",
    "assessments",
    "django_htmx",
    "ninja",  # the API docs page then loads Swagger UI from our static files, not from a CDN
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "core.health.HealthCheckMiddleware",  # probes: before the Host check and the HTTPS redirect
    "core.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.LoginRequiredMiddleware",  # Django's, htmx-aware
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "core.headers.PermissionsPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.notifications",
                "assessments.context_processors.reviews",
            ],
        },
    },
]

# What apps that roadmap/ may not import add to its public pages: the learner's progress and gate
# request, their artifacts (roadmap/overlays.py says how). Views call these in this order.
ROADMAP_OVERLAYS = ["portfolio.overlays.spec_overlay", "assessments.overlays.learner_overlay"]
# Told of every run that ends (portfolio imports neither): a regraded gate's evidence is re-judged.
RUN_ENDED_HANDLERS = ["assessments.regrading.run_ended"]

DATABASES = {"default": database_from_url(env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'layerwise.sqlite3'}"))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default keeps everything under var/; make it on first use.
    VAR_DIR.mkdir(parents=True, exist_ok=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "rules.permissions.ObjectPermissionBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "assessments:dashboard"
LOGOUT_REDIRECT_URL = "roadmap:roadmap-list"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed, compressed files in production; tests and DEBUG use plain files so
    # a missing manifest entry never breaks a page.
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Email goes through SMTP when a host is configured; otherwise each message is written as a file
# under var/mail/ (read confirmation links there with `make run`). Tests use Django's in-memory outbox.
if env("EMAIL_HOST"):
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": env("EMAIL_HOST"),
                "port": env_int("EMAIL_PORT", 587),
                "username": env("EMAIL_HOST_USER"),
                "password": env("EMAIL_HOST_PASSWORD"),
                "use_tls": env_bool("EMAIL_USE_TLS", True),
                "timeout": 10,
            },
        }
    }
else:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": str(VAR_DIR / "mail")},
        }
    }
# In development and tests whitenoise serves straight from the app folders, no collectstatic needed.
WHITENOISE_USE_FINDERS = DEBUG or TESTING
WHITENOISE_AUTOREFRESH = DEBUG or TESTING

EMAIL_CONFIGURED = bool(env("EMAIL_HOST"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Layerwise <noreply@layerwise.localhost>")

# Uploads: Django refuses request bodies above these; the artifact form checks
# its own, smaller caps and names the file it refuses.
ARTIFACT_MAX_BYTES = env_int("ARTIFACT_MAX_BYTES", 20 * 1024 * 1024)
ARTIFACT_MAX_FILES = env_int("ARTIFACT_MAX_FILES", 200)
ARTIFACT_MAX_UNCOMPRESSED_BYTES = env_int("ARTIFACT_MAX_UNCOMPRESSED_BYTES", 100 * 1024 * 1024)
RESULTS_MAX_BYTES = env_int("RESULTS_MAX_BYTES", 5 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 6 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 6 * 1024 * 1024

CONTENT_DIR = BASE_DIR / "fixtures" / "roadmaps"

# Celery. Run state lives in Run and RunAttempt rows, so there is no result backend.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "filesystem://")
BROKER_DIR = Path(env("RUNNER_BROKER_DIR", str(VAR_DIR / "broker")))
# Same value as the runner's Celery app (portfolio/runner/protocol.py): the broker's visibility
# timeout below must exceed it on every app sharing the broker, because with Redis any consumer
# restores unacknowledged messages older than its own timeout and would hand a running GPU job to
# a second runner.
RUNNER_HARD_LIMIT_S = TASK_TIME_LIMIT_S
# The transport and its options (each with its reason) are defined once, in
# portfolio/runner/broker.py, for this app and the runner's: two apps sharing a broker must agree.
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = broker.transport_options(
    CELERY_BROKER_URL, broker_dir=BROKER_DIR, hard_limit_s=RUNNER_HARD_LIMIT_S
)
if broker.is_filesystem(CELERY_BROKER_URL):
    CELERY_BROKER_TRANSPORT = broker.FILESYSTEM_TRANSPORT
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "runner.*": {"queue": "runner"},
    "portfolio.*": {"queue": "default"},
    "assessments.*": {"queue": "default"},
    "accounts.*": {"queue": "default"},
}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# A task is acknowledged only once it has finished, and a task whose worker died
# goes back to the queue; the tasks are written to be safe to run twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Don't reserve work a busy worker cannot start.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A send on commit happens inside a web request: with the broker unreachable, give up within a few
# seconds (the attempt records the failure and the reaper sends it again) instead of holding the
# upload's response for Celery's default retries.
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
CELERY_TASK_ALWAYS_EAGER = False
# The Django worker's tasks only write rows; a task still running after two minutes is stuck.
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 100
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "reap-stale-attempts": {
        "task": "portfolio.reap_stale_attempts",
        "schedule": env_int("RUNNER_REAP_EVERY_S", 30),
    },
}

# Runs. Which grader (name, version) runs each runnable spec kind; the pair is pinned on the Run
# when it is created, so a retry or a late result never meets a different grader.
# RUNNER_CODE_GRADERS: a kind that takes code as well as its own upload grades a version whose upload
# is Python (07's bench_client.py) with this grader; a gate requiring such a spec needs a passing
# run of it (assessments.models.records.requirement_state). Set like RUNNER_GRADERS.
# RUNNER_GRADERS="kv_calculator=script:1" points a kind at another grader, for example the trivial
# `script` grader to smoke-test the pipeline before a real grader is deployed on the runners.
RUNNER_GRADERS: dict[str, tuple[str, str]] = {
    "kv_calculator": ("kv_calculator", "2"),
    "inference_benchmark": ("inference_benchmark", "1"),
    "tiny_transformer": ("tiny_transformer", "1"),
    "quantizer": ("quantizer", "1"),
}
for _item in env_list("RUNNER_GRADERS"):
    _kind, _, _grader = _item.partition("=")
    _name, _, _version = _grader.partition(":")
    if not (_kind and _name and _version):
        raise ImproperlyConfigured(f"RUNNER_GRADERS entries look like kind=grader:version, not {_item!r}")
    RUNNER_GRADERS[_kind.strip()] = (_name.strip(), _version.strip())
RUNNER_CODE_GRADERS: dict[str, tuple[str, str]] = {
    "inference_benchmark": ("bench_client", "1"),
}
for _item in env_list("RUNNER_CODE_GRADERS"):
    _kind, _, _grader = _item.partition("=")
    _name, _, _version = _grader.partition(":")
    if not (_kind and _name and _version):
        raise ImproperlyConfigured(f"RUNNER_CODE_GRADERS entries look like kind=grader:version, not {_item!r}")
    RUNNER_CODE_GRADERS[_kind.strip()] = (_name.strip(), _version.strip())
# What a learner may have waiting or running at once; more uploads are kept but not run.
RUNNER_MAX_QUEUED_PER_USER = env_int("RUNNER_MAX_QUEUED_PER_USER", 3)
# Per-job limits sent in the payload (portfolio/runner/protocol.py Limits, bounds checked there).
RUNNER_LIMITS: dict[str, int] = {
    "wall_s": env_int("RUNNER_WALL_S", 300),
    "cpu_s": env_int("RUNNER_CPU_S", 300),
    "memory_mb": env_int("RUNNER_MEMORY_MB", 4096),
    "processes": env_int("RUNNER_PROCESSES", 64),
    "file_mb": env_int("RUNNER_FILE_MB", 64),
    "output_kb": env_int("RUNNER_OUTPUT_KB", 256),
}
# The runner sends a heartbeat every RUNNER_HEARTBEAT_S (5 s); an attempt silent for this long
# is presumed dead (its worker was killed or lost the broker) and the reaper retries it.
RUNNER_HEARTBEAT_TIMEOUT_S = env_int("RUNNER_HEARTBEAT_TIMEOUT_S", 60)
# At most this many attempts per run for faults on our side (system errors, lost workers);
# the submission's own failures are never retried. portfolio.runner.protocol caps it at 3.
RUNNER_MAX_ATTEMPTS = 3
# Handing an attempt to the runner queue can fail (broker down, the version's file unreadable).
# The reaper sends again attempts that were never handed over, at most this many times each; an
# attempt that still could not be sent ends `error` and the run moves to its next attempt. An
# attempt is left alone for RUNNER_DISPATCH_GRACE_S after it was created, so the reaper never
# races the send on commit.
RUNNER_MAX_DISPATCH_TRIES = env_int("RUNNER_MAX_DISPATCH_TRIES", 5)
RUNNER_DISPATCH_GRACE_S = env_int("RUNNER_DISPATCH_GRACE_S", 30)
# A message the broker took can still be lost (Redis restarted without persistence, a runner
# killed before its first report). An attempt unstarted this long after its send, while the
# runner queue is empty, is sent again (a try like the others).
RUNNER_UNSTARTED_RESEND_S = env_int("RUNNER_UNSTARTED_RESEND_S", 300)

# Plain text for people (the default); LOG_FORMAT=json for a log collector: one JSON object per
# line with time, level, logger, message, request_id (core/logs.py), task_id and exception. The
# formatter is the runner's (portfolio/runner/jsonlog.py, standard library only), wired here by
# dotted path: core is below portfolio and may not import it. The Celery workers and beat follow
# the same switch (config/celery.py, portfolio/runner/celery_app.py).
LOG_FORMAT = env("LOG_FORMAT", "plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "core.logs.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "portfolio.runner.jsonlog.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# The cache holds rate-limit counters. Local memory by default, which counts per process; with
# REDIS_URL (or CACHE_URL) every web process shares them. Give it a Redis database number of its
# own: Django's cache.clear() empties the whole database, queues included if the broker shares it.
CACHE_URL = env("CACHE_URL") or env("REDIS_URL")
if CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "layerwise",
            # A dead cache costs a request two seconds at most; rate limits then fail open.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "layerwise"}}

# Rate limits, "count/period" (s, m, h, d), each overridable with its environment variable
# (RATE_LIMIT_LOGIN_USERNAME=20/15m). Only failed log-ins count, per username and address together
# ("login-username") and per address, so nobody can lock another person out; signups and password
# reset requests count every attempt (per typed email and per address); confirmation mails for an
# email address count per account ("email-link");
# runs count every run started (uploads of a runnable spec, "Run this version", "Run again").
RATE_LIMITS = {
    "login-username": env("RATE_LIMIT_LOGIN_USERNAME", "10/15m"),
    "login-address": env("RATE_LIMIT_LOGIN_ADDRESS", "30/15m"),
    "signup-address": env("RATE_LIMIT_SIGNUP_ADDRESS", "10/1h"),
    "reset-email": env("RATE_LIMIT_RESET_EMAIL", "3/1h"),
    "reset-address": env("RATE_LIMIT_RESET_ADDRESS", "10/1h"),
    "email-link": env("RATE_LIMIT_EMAIL_LINK", "5/1h"),
    "run-submissions": env("RATE_LIMIT_RUN_SUBMISSIONS", "20/1h"),
}
# How many reverse proxies in front of the app append to X-Forwarded-For; 0 trusts none and limits
# by REMOTE_ADDR (core/ratelimit.py client_ip). Behind one proxy (the usual TLS terminator): 1.
TRUSTED_PROXIES = env_int("TRUSTED_PROXIES", 0)

# Headers on every response. The policy allows our own scripts and styles and those carrying the
# request's nonce (templates: {{ csp_nonce }}); style attributes stay allowed for the computed widths of
# progress bars and charts, <style> elements only with the nonce. Images from other sites are
# refused: rendered Markdown shows them as links (roadmap/markdown.py).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "style-src-attr": [CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Features no page uses, switched off for every frame (core/headers.py sends it).
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()"
)

# HTTPS behind a proxy: on by itself when DEBUG is off. `make run` serves plain HTTP on this machine
# and sets HTTPS=0 (no redirect, no HSTS, cookies without the Secure flag).
HTTPS = env_bool("HTTPS", not (DEBUG or TESTING))
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
