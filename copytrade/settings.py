"""Django settings for copytrade, read from the environment only (see .env.example)."""

import re
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured
from django_guid.integrations import CeleryIntegration
from kombu import Exchange, Queue

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# Local state of the embedded defaults: SQLite file, filesystem broker, static files.
VAR_DIR = Path(env.str("COPYTRADE_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)
if env.bool("COPYTRADE_READ_DOT_ENV", default=False):
    environ.Env.read_env(str(BASE_DIR / ".env"))

# ---------------------------------------------------------------- core
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off.")
    SECRET_KEY = "insecure-development-only-key"  # noqa: S105 - DEBUG only, never production
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # Django's admin with copytrade's site: a second factor (TOTP) on login, see copytrade/core/admin_site.py.
    "copytrade.core.apps.CopytradeAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "csp",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_guid",
    "copytrade.core",
    "broker",
    "accounts",
    "replication",
]

MIDDLEWARE = [
    "django_guid.middleware.guid_middleware",
    "django.middleware.security.SecurityMiddleware",
    # Above WhiteNoise, so static files carry the policy too: every response has one.
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Admin pages in IST (MARKET_TIME_ZONE); the database and everything else stay UTC.
    "copytrade.core.middleware.AdminTimeZoneMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last but one (axes must be last), so its process_exception sees a view's unhandled error first; it
    # answers JSON under /api/.
    "copytrade.core.middleware.ApiErrorMiddleware",
    # Last, as django-axes requires: it turns a refused login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "copytrade.urls"
WSGI_APPLICATION = "copytrade.wsgi.application"
ASGI_APPLICATION = "copytrade.asgi.application"

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

# ---------------------------------------------------------------- database
# SQLite when DATABASE_URL is unset (the embedded default); MySQL/MariaDB through mysqlclient otherwise.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'copytrade.sqlite3'}")}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.mysql":
    _db.setdefault("OPTIONS", {}).update(
        {
            "charset": "utf8mb4",
            "init_command": "SET sql_mode='STRICT_TRANS_TABLES', innodb_strict_mode=1",
            "isolation_level": "read committed",
        }
    )
    _db.setdefault("TEST", {}).update({"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"})
    _db["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    _db["CONN_HEALTH_CHECKS"] = True
elif _db["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one SQLite file in the demo: wait for locks instead of failing.
    _db.setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Shared cache (API rate limits, leases): Redis in production, per-process memory by default.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://copytrade")}

# ---------------------------------------------------------------- auth, i18n, static
# django-axes first: it refuses a locked-out login before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
MARKET_TIME_ZONE = "Asia/Kolkata"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("DJANGO_STATIC_ROOT", default=str(VAR_DIR / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# ---------------------------------------------------------------- security (production defaults)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# The admin moves every follower's money: staff prove a second factor (a TOTP device, `manage.py otp_enrol`)
# at login, and an API call on a staff session needs that verified session too. Off only in debug by default.
COPYTRADE_ADMIN_REQUIRE_OTP = env.bool("COPYTRADE_ADMIN_REQUIRE_OTP", default=not DEBUG)
OTP_TOTP_ISSUER = "copytrade"
# The admin's TOTP device pages never show a stored key or QR code (`otp_enrol` prints them once).
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# Failed logins (a wrong password or a wrong second-factor token) per username *and* client IP before that
# pair is refused for the cool-off: it stops brute force from one place without letting anyone lock an
# operator out from everywhere. Behind a proxy REMOTE_ADDR is the proxy's, so the rule is per username.
AXES_FAILURE_LIMIT = env.int("COPYTRADE_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("COPYTRADE_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
# Masked in the failed-attempt records, like the password (django-axes masks username and IP by default).
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "otp_token", "csrfmiddlewaretoken"]
# Every asset is served from here (no CDN); scripts only from our own files, never inline, so injected markup
# cannot run script. Inline styles stay allowed: the admin, its pages and Swagger UI use style attributes.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}

# ---------------------------------------------------------------- DRF and OpenAPI
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "copytrade.core.exceptions.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["copytrade.core.parsers.BoundedJSONParser"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "copytrade.core.auth.QaSecretAuthentication",
        "copytrade.core.auth.StaffSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["copytrade.core.auth.IsOperator"],
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "copytrade.core.throttling.OperatorRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_RATE_LIMIT_ANON", default="60/min"),
        "operator": env.str("API_RATE_LIMIT", default="600/min"),
        # Alice Blue's webhook calls (per source address): one per order event of the master.
        "webhook": env.str("API_RATE_LIMIT_WEBHOOK", default="600/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "copytrade API",
    "DESCRIPTION": "Copy trading for Alice Blue: followers, risk configs, replication, exits.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Schema and docs are for operators (x-qa-secret or a staff session), like the API itself.
    "SERVE_PERMISSIONS": ["copytrade.core.auth.IsOperator"],
    "SERVE_AUTHENTICATION": [
        "copytrade.core.auth.QaSecretAuthentication",
        "copytrade.core.auth.StaffSessionAuthentication",
    ],
    # Swagger UI assets are served locally (drf-spectacular-sidecar), not from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # A PATCH body is the same component as a POST one (its required fields are required).
    "COMPONENT_SPLIT_PATCH": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "copytrade.core.schema.postprocess_schema",
    ],
    "ENUM_NAME_OVERRIDES": {
        "SideEnum": "replication.models.SIDE_CHOICES",
        "MappingStatusEnum": "replication.states.MappingStatus",
        "ReasonCodeEnum": "replication.states.ReasonCode",
        "ResultStatusEnum": "replication.serializers.RESULT_STATUSES",
        "TradeEventStatusEnum": "replication.models.TradeEvent.Status",
    },
}

# ---------------------------------------------------------------- Celery
# Redis when CELERY_BROKER_URL is set; otherwise kombu's filesystem transport under var/ (no server needed,
# a real worker and beat still run the tasks). State lives in DB rows, so no result backend.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_FOLDER = Path(env.str("CELERY_BROKER_FOLDER", default=str(VAR_DIR / "celery-broker")))
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=120)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=100)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Output a task prints (the console e-mail backend of `make run`) is logged at INFO, not as a warning.
CELERY_WORKER_REDIRECT_STDOUTS_LEVEL = "INFO"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery's Django fixup closes the DB connections around every task unless this is set; copytrade/celery.py
# applies Django's CONN_MAX_AGE / health-check rules around each task instead (one connection per thread).
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1_000_000)
if CELERY_BROKER_URL.startswith("filesystem"):
    # kombu's transport with atomic message files (copytrade/core/filesystem_broker.py says why).
    CELERY_BROKER_TRANSPORT = "copytrade.core.filesystem_broker:Transport"
    for _folder in ("queue", "processed", "control"):
        (CELERY_BROKER_FOLDER / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_FOLDER / "queue"),
        "data_folder_out": str(CELERY_BROKER_FOLDER / "queue"),
        "processed_folder": str(CELERY_BROKER_FOLDER / "processed"),
        "control_folder": str(CELERY_BROKER_FOLDER / "control"),
        # The default, one poll a second, is too slow for a replicate call that waits for its placements.
        "polling_interval": env.float("CELERY_BROKER_POLLING_INTERVAL", default=0.1),
        "store_processed": False,
    }
else:
    # Above every task's time limit, so an unacknowledged task is not redelivered while still running.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT * 3}
# Two queues (DESIGN 11). "placement" carries the order path: capture (the master poll, webhook reads, which
# fan out), follower order placement, reconcile by tag (which may resend) and exit / modify / cancel. The
# default queue carries the bookkeeping: order-book status sync, the sweeper, risk snapshots, session checks.
# Each gets its own worker pool in production (`-Q placement`, `-Q celery`), so a slow or backlogged status
# sync never delays an entry; a worker started without -Q consumes both, so one worker is a whole deployment.
CELERY_TASK_DEFAULT_QUEUE = "celery"
PLACEMENT_QUEUE = "placement"
CELERY_TASK_QUEUES = tuple(
    Queue(name, Exchange(name), routing_key=name) for name in (CELERY_TASK_DEFAULT_QUEUE, PLACEMENT_QUEUE)
)
# By task name (the names replication.dispatch sends); every other task goes to the default queue.
CELERY_TASK_ROUTES = {
    name: {"queue": PLACEMENT_QUEUE}
    for name in (
        "replication.order_mapping_place",
        "replication.order_mappings_place_batch",
        "replication.order_mapping_reconcile",
        "replication.order_action_run",
        "replication.master_poll",
        "replication.webhook_order_refresh",
        "copytrade.core.tasks.placement_heartbeat_task",
    )
}
HEARTBEAT_INTERVAL_SECONDS = env.int("HEARTBEAT_INTERVAL_SECONDS", default=30)
# Synced into django-celery-beat's tables by its DatabaseScheduler; operators can edit them in the admin.
CELERY_BEAT_SCHEDULE = {
    # One heartbeat through each queue: /api/health is ok only when a worker consumes each.
    "heartbeat": {
        "task": "copytrade.core.tasks.heartbeat_task",
        "schedule": float(HEARTBEAT_INTERVAL_SECONDS),
    },
    "heartbeat-placement": {
        "task": "copytrade.core.tasks.placement_heartbeat_task",
        "schedule": float(HEARTBEAT_INTERVAL_SECONDS),
    },
    # Verify every stored Alice Blue session before market open: 08:45 Asia/Kolkata = 03:15 UTC, Mon-Fri.
    "session-check-before-market-open": {
        "task": "accounts.tasks.session_check_task",
        "schedule": crontab(hour=3, minute=15, day_of_week="mon-fri"),
    },
}

# ---------------------------------------------------------------- Alice Blue
ALICE_API_FLAVOR = env.str("ALICE_API_FLAVOR", default="openapi")
if ALICE_API_FLAVOR not in {"openapi", "legacy"}:
    raise ImproperlyConfigured("ALICE_API_FLAVOR must be 'openapi' or 'legacy'.")
ALICE_API_BASE_URL = env.str("ALICE_API_BASE_URL", default="https://a3.aliceblueonline.com")
ALICE_LEGACY_BASE_URL = env.str("ALICE_LEGACY_BASE_URL", default="") or ALICE_API_BASE_URL
ALICE_LOGIN_URL = env.str("ALICE_LOGIN_URL", default="https://ant.aliceblueonline.com/")
ALICE_APP_CODE = env.str("ALICE_APP_CODE", default="")
ALICE_API_SECRET = env.str("ALICE_API_SECRET", default="")
ALICE_CONTRACT_MASTER_URL = env.str(
    "ALICE_CONTRACT_MASTER_URL",
    default="https://v2api.aliceblueonline.com/restpy/static/contract_master/V2/",
)
ALICE_CONTRACT_EXCHANGES = env.list("ALICE_CONTRACT_EXCHANGES", default=["NSE", "NFO"])
ALICE_CONNECT_TIMEOUT = env.float("ALICE_CONNECT_TIMEOUT", default=3.05)
ALICE_READ_TIMEOUT = env.float("ALICE_READ_TIMEOUT", default=10.0)
ALICE_HTTP_POOL_SIZE = env.int("ALICE_HTTP_POOL_SIZE", default=200)
ALICE_OAUTH_TOKENS_FILE = env.str("ALICE_OAUTH_TOKENS_FILE", default=".alice.tokens.json")
# Non-order calls per account (Alice Blue allows about 1,800 per 15 minutes; orders are not limited), counted
# across processes in Redis (the Celery broker's, unless set) or, without Redis, in each process's memory.
# An empty rate switches the budget off.
ALICE_NON_ORDER_BUDGET = env.str("ALICE_NON_ORDER_BUDGET", default="1700 per 15 minutes")
ALICE_NON_ORDER_BUDGET_STORAGE = env.str(
    "ALICE_NON_ORDER_BUDGET_STORAGE",
    default=CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else "memory://",
)

# ---------------------------------------------------------------- copytrade
QUANTUM_ALPHA_SECRET = env.str("QUANTUM_ALPHA_SECRET", default="")
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
COPYTRADE_REQUIRE_CONSENT = env.bool("COPYTRADE_REQUIRE_CONSENT", default=True)
# MasterSettings.enforce_copy_window until the operator saves the settings: new entries only on NSE trading
# days inside each follower's copy window. The test suite and `make run` turn it off (they run at any hour).
COPYTRADE_COPY_WINDOW_DEFAULT = env.bool("COPYTRADE_COPY_WINDOW_DEFAULT", default=True)
# This service's public address (scheme + host, no path): consent links sent to followers are built from it.
COPYTRADE_PUBLIC_URL = env.str("COPYTRADE_PUBLIC_URL", default="")
# A consent link works for this many hours, once; a newer link or a revocation ends it sooner.
COPYTRADE_CONSENT_LINK_MAX_AGE_HOURS = env.int("COPYTRADE_CONSENT_LINK_MAX_AGE_HOURS", default=72)
REPLICATION_SYNC_TIMEOUT = env.float("REPLICATION_SYNC_TIMEOUT", default=5.0)
# Placement: attempts per follower order (the `attempts` column caps retries, not Celery), backoff in seconds.
REPLICATION_MAX_ATTEMPTS = env.int("REPLICATION_MAX_ATTEMPTS", default=4)
REPLICATION_RETRY_BACKOFF = env.float("REPLICATION_RETRY_BACKOFF", default=1.0)
REPLICATION_RETRY_BACKOFF_MAX = env.float("REPLICATION_RETRY_BACKOFF_MAX", default=30.0)
# A fan-out places first attempts in batches: one task per BATCH_SIZE followers, sending all its orders at
# once from the worker process's asyncio client (so 100 followers need neither 100 tasks nor 100 threads).
REPLICATION_PLACEMENT_BATCH_SIZE = env.int("REPLICATION_PLACEMENT_BATCH_SIZE", default=25)
# The first batch is smaller: its few rows are claimed and sent while the larger batches are being claimed.
REPLICATION_PLACEMENT_FIRST_BATCH = env.int("REPLICATION_PLACEMENT_FIRST_BATCH", default=5)
# An ENTRY not sent within this many seconds of its fan-out (workers down, broker unavailable) is never sent:
# the price has moved on. Rows an earlier attempt may have placed are reconciled by tag instead.
REPLICATION_ENTRY_MAX_AGE = env.float("REPLICATION_ENTRY_MAX_AGE", default=300.0)
# The price guard reads an instrument's last price once per fan-out (master's session) and keeps it this long.
REPLICATION_LAST_PRICE_MAX_AGE = env.float("REPLICATION_LAST_PRICE_MAX_AGE", default=2.0)
# Outcome unknown: first tag lookup after DELAY s; absent GRACE s after sending -> FAILED "not placed".
REPLICATION_RECONCILE_DELAY = env.float("REPLICATION_RECONCILE_DELAY", default=2.0)
REPLICATION_RECONCILE_GRACE = env.float("REPLICATION_RECONCILE_GRACE", default=30.0)
REPLICATION_RECONCILE_GIVE_UP = env.float("REPLICATION_RECONCILE_GIVE_UP", default=900.0)
# Exit / modify / cancel actions.
REPLICATION_ACTION_MAX_ATTEMPTS = env.int("REPLICATION_ACTION_MAX_ATTEMPTS", default=20)
REPLICATION_ACTION_WAIT = env.float("REPLICATION_ACTION_WAIT", default=1.0)
# Sweeper: PENDING/UNKNOWN rows untouched this long are re-enqueued; SUBMITTING this long is UNKNOWN.
# SUBMITTING_STUCK_AFTER must exceed the broker call's connect + read timeout.
REPLICATION_SWEEP_AFTER = env.float("REPLICATION_SWEEP_AFTER", default=30.0)
REPLICATION_SUBMITTING_STUCK_AFTER = env.float("REPLICATION_SUBMITTING_STUCK_AFTER", default=60.0)
REPLICATION_SWEEP_INTERVAL = env.float("REPLICATION_SWEEP_INTERVAL", default=15.0)
REPLICATION_ORDER_SYNC_INTERVAL = env.float("REPLICATION_ORDER_SYNC_INTERVAL", default=5.0)
# Parallel position reads (daily-loss rule) during a fan-out.
REPLICATION_POSITIONS_CONCURRENCY = env.int("REPLICATION_POSITIONS_CONCURRENCY", default=32)
CELERY_BEAT_SCHEDULE["replication-order-status-sync"] = {
    "task": "replication.order_status_sync",
    "schedule": REPLICATION_ORDER_SYNC_INTERVAL,
}
CELERY_BEAT_SCHEDULE["replication-sweep"] = {
    "task": "replication.sweep",
    "schedule": REPLICATION_SWEEP_INTERVAL,
}
# Follower risk snapshots (day P&L and opening cash, for the loss rules and auto-liquidation): one task per
# active, session-VALID follower every INTERVAL s, two non-order calls each (positions + limits). Alice Blue
# allows 1,800 non-order calls per 15 minutes per account; 2 calls per 30 s is 60 per 15 minutes.
# A fan-out uses a snapshot younger than MAX_AGE s and reads the broker live otherwise.
REPLICATION_RISK_SNAPSHOT_INTERVAL = env.float("REPLICATION_RISK_SNAPSHOT_INTERVAL", default=30.0)
REPLICATION_RISK_SNAPSHOT_MAX_AGE = env.float("REPLICATION_RISK_SNAPSHOT_MAX_AGE", default=60.0)
CELERY_BEAT_SCHEDULE["replication-risk-snapshot-refresh"] = {
    "task": "replication.risk_snapshot_refresh",
    "schedule": REPLICATION_RISK_SNAPSHOT_INTERVAL,
}
# Capital sizing: read today's capital (the broker's opening cash) of the master and CAPITAL-mode followers
# once, before the open: 09:00 Asia/Kolkata = 03:30 UTC, Mon-Fri (a fan-out reads any still missing).
CELERY_BEAT_SCHEDULE["replication-capitals-refresh"] = {
    "task": "replication.capitals_refresh",
    "schedule": crontab(hour=3, minute=30, day_of_week="mon-fri"),
}

# Master capture (DESIGN 5.5). The poll: beat ticks every TICK s, and a tick polls when the master's interval
# (MasterSettings, in the admin) has passed; it leaves BUDGET_RESERVE of the master's non-order calls unused.
CAPTURE_POLL_TICK = env.float("CAPTURE_POLL_TICK", default=1.0)
CAPTURE_POLL_BUDGET_RESERVE = env.int("CAPTURE_POLL_BUDGET_RESERVE", default=100)
CELERY_BEAT_SCHEDULE["replication-master-poll"] = {
    "task": "replication.master_poll",
    "schedule": CAPTURE_POLL_TICK,
    "options": {"expires": max(CAPTURE_POLL_TICK * 2, 2.0)},
}
# The order-update stream (`manage.py master_stream`): a heartbeat every HEARTBEAT s (Alice Blue closes a
# silent socket after 60 s); the lease is held for LEASE_SECONDS and renewed every LEASE_RENEW s; a stream not
# heard from for STALE_AFTER s is not healthy (the poll goes back to its fast interval); reconnects back off
# up to BACKOFF_MAX s; an account whose feed is not enabled is asked again every NOT_ENABLED_RETRY s.
CAPTURE_STREAM_HEARTBEAT = env.float("CAPTURE_STREAM_HEARTBEAT", default=50.0)
CAPTURE_STREAM_LEASE_SECONDS = env.float("CAPTURE_STREAM_LEASE_SECONDS", default=20.0)
CAPTURE_STREAM_LEASE_RENEW = env.float("CAPTURE_STREAM_LEASE_RENEW", default=5.0)
CAPTURE_STREAM_STALE_AFTER = env.float("CAPTURE_STREAM_STALE_AFTER", default=30.0)
CAPTURE_STREAM_BACKOFF_MAX = env.float("CAPTURE_STREAM_BACKOFF_MAX", default=60.0)
CAPTURE_STREAM_NOT_ENABLED_RETRY = env.float("CAPTURE_STREAM_NOT_ENABLED_RETRY", default=300.0)
# The secret path part of the Alice Blue webhook URL (/api/alice/webhook/<token>); derived from
# DJANGO_SECRET_KEY when empty. `manage.py alice_webhook show` prints the URL.
ALICE_WEBHOOK_TOKEN = env.str("ALICE_WEBHOOK_TOKEN", default="")

# Request ids (django-guid): from a valid X-Request-ID header or generated; returned in X-Request-ID, on every
# log line, and carried into the Celery tasks a request enqueues.
DJANGO_GUID = {
    "GUID_HEADER_NAME": "X-Request-ID",
    "VALIDATE_GUID": True,
    "RETURN_HEADER": True,
    "INTEGRATIONS": [CeleryIntegration(log_parent=False)],
}
# Request bodies above this many bytes are refused (413); the largest API body (500 follower ids) is ~70 KB.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("API_MAX_BODY_BYTES", default=1_048_576)

# ---------------------------------------------------------------- notifications (Telegram and e-mail)
# E-mail through Django's SMTP backend: EMAIL_URL such as smtp+tls://user:password@smtp.example.com:587
# (smtp+ssl:// for port 465). Unset, mail is printed to the console and nothing leaves the machine.
vars().update(env.email_url_config(env.str("EMAIL_URL", default="") or "consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="copytrade@localhost")
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=10.0)
# Telegram's Bot API; the token is a secret: never logged, never in an error text or the admin.
TELEGRAM_BOT_TOKEN = env.str("TELEGRAM_BOT_TOKEN", default="")
TELEGRAM_API_BASE_URL = env.str("TELEGRAM_API_BASE_URL", default="https://api.telegram.org")
NOTIFY_CONNECT_TIMEOUT = env.float("NOTIFY_CONNECT_TIMEOUT", default=3.05)
NOTIFY_READ_TIMEOUT = env.float("NOTIFY_READ_TIMEOUT", default=10.0)
# Per channel; a message over it is SUPPRESSED (logged, not sent) and the next one sent says how many were.
NOTIFY_RATE_LIMIT = env.str("NOTIFY_RATE_LIMIT", default="20 per minute")
NOTIFY_RATE_LIMIT_STORAGE = env.str("NOTIFY_RATE_LIMIT_STORAGE", default="") or ALICE_NON_ORDER_BUDGET_STORAGE
# A channel that is down (connection refused, timeout, 5xx, 429) is tried again with a doubling backoff
# (10, 20, 40, 80, 160 s: about five minutes). The cap stays below Redis's visibility timeout: a countdown
# longer than it gets the retry delivered twice (harmless, the delivery is claimed, but a wasted try).
NOTIFY_MAX_ATTEMPTS = env.int("NOTIFY_MAX_ATTEMPTS", default=6)
NOTIFY_RETRY_BACKOFF = env.float("NOTIFY_RETRY_BACKOFF", default=10.0)
NOTIFY_RETRY_BACKOFF_MAX = min(
    env.float("NOTIFY_RETRY_BACKOFF_MAX", default=300.0), CELERY_TASK_TIME_LIMIT * 3 - 30
)
# The scan (a beat task) for FAILED / UNKNOWN follower orders and capture down: every INTERVAL s, over the
# last LOOKBACK s of changed orders; an UNKNOWN order is reported once it is UNKNOWN_AFTER s old (most are
# resolved by the reconcile within seconds); capture is down when no read of the master's orders succeeded
# for CAPTURE_DOWN s, checked only inside CAPTURE_WINDOW (IST, on NSE trading days; empty: always).
NOTIFY_SCAN_INTERVAL = env.float("NOTIFY_SCAN_INTERVAL", default=30.0)
NOTIFY_LOOKBACK_SECONDS = env.float("NOTIFY_LOOKBACK_SECONDS", default=3600.0)
NOTIFY_UNKNOWN_AFTER_SECONDS = env.float("NOTIFY_UNKNOWN_AFTER_SECONDS", default=60.0)
NOTIFY_CAPTURE_DOWN_SECONDS = env.float("NOTIFY_CAPTURE_DOWN_SECONDS", default=120.0)
NOTIFY_CAPTURE_WINDOW = env.str("NOTIFY_CAPTURE_WINDOW", default="09:00-15:30").strip()
_CLOCK_HH_MM = r"([01][0-9]|2[0-3]):[0-5][0-9]"
if NOTIFY_CAPTURE_WINDOW and not re.fullmatch(f"{_CLOCK_HH_MM}-{_CLOCK_HH_MM}", NOTIFY_CAPTURE_WINDOW):
    raise ImproperlyConfigured("NOTIFY_CAPTURE_WINDOW must be HH:MM-HH:MM (IST) or empty.")
CELERY_BEAT_SCHEDULE["notify-scan"] = {
    "task": "replication.notify_scan",
    "schedule": NOTIFY_SCAN_INTERVAL,
    "options": {"expires": NOTIFY_SCAN_INTERVAL},
}
# Followers not ready for the open, after the session check (08:45 IST): 08:50 IST = 03:20 UTC, Mon-Fri.
CELERY_BEAT_SCHEDULE["notify-readiness-before-open"] = {
    "task": "replication.notify_readiness",
    "schedule": crontab(hour=3, minute=20, day_of_week="mon-fri"),
}

# ---------------------------------------------------------------- logging
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact_secrets": {"()": "copytrade.core.logging.RedactSecretsFilter"},
        "request_id": {"()": "copytrade.core.logging.RequestIdFilter"},
        "health_probe": {"()": "copytrade.core.logging.HealthProbeFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(process)d] [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id", "redact_secrets"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.request": {"filters": ["health_probe"]},
        # It logs every id it sets and clears: noise at INFO.
        "django_guid": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        "celery": {"level": LOG_LEVEL},
        # A line per task received / succeeded / sent by beat (the poll ticks every second): noise unless
        # debugging; the services log what each task did.
        **{
            name: {"level": "DEBUG" if LOG_LEVEL == "DEBUG" else "WARNING"}
            for name in ("celery.app.trace", "celery.worker.strategy", "celery.beat")
        },
    },
}
