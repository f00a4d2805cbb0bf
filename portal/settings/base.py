"""Settings shared by every environment. Each value that an operator may change is an env var."""

import json
import os
from pathlib import Path
from typing import Any

import dj_database_url
from celery.schedules import crontab

from portal.logs import configure_structlog, logging_config

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("CASEBOUND_VAR_DIR", BASE_DIR / "var"))

# DeepFace reads its weights from $DEEPFACE_HOME/.deepface/weights; never from the network.
os.environ.setdefault("DEEPFACE_HOME", str(VAR_DIR / "deepface"))
# Every process (gunicorn's workers, Celery's) writes its metric samples here and /metrics adds
# them up (portal/metrics.py). prometheus-client reads the variable when it is first imported,
# which is after the settings; `make run` empties the folder at start.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(VAR_DIR / "metrics"))
Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
DEBUG = False
ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h]

INSTALLED_APPS = [
    "portal.admin_site.CaseboundAdminConfig",  # the admin, read-only (portal/admin_site.py)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "django_filters",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "csp",
    "agencies",
    "search",
    "search.bench",  # measurement commands only (docs/benchmarks.md)
]

MIDDLEWARE = [
    "portal.logs.RequestContextMiddleware",  # request id, one log line and latency per request
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files from the web process, no CDN
    "portal.health.HealthMiddleware",  # /healthz, /readyz: before sessions, sign-in and the gate
    "portal.monitoring.MetricsMiddleware",  # /metrics: loopback or token; to others, no such page
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "agencies.tenancy.middleware.RowScopeMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "agencies.audit.middleware.AuditContextMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "agencies.accounts.middleware.SessionLimitsMiddleware",
    "agencies.accounts.middleware.AccountGateMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_ratelimit.middleware.RatelimitMiddleware",
    "axes.middleware.AxesMiddleware",
    "portal.http.MethodNotAllowedPage",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

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
                "agencies.tenancy.context_processors.acting_agency",
                "search.context_processors.review_queue_count",
            ],
            "libraries": {"uswds": "portal.uswds"},
            # `when`, `day` and `time_zone_note` on every page: one way to show a date (ISO 8601)
            "builtins": ["portal.dates"],
        },
    },
]

# The application connects as a role that owns no table, so Postgres row-level security binds it
# (agencies/tenancy/row_security.py). Migrations and index builds use the owner's URL; without one, they
# use DATABASE_URL, and `check --deploy` warns that the application could then bypass the policies.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", "postgres://casebound_app@localhost/casebound"),
        conn_max_age=60, engine="portal.db",
    )
}
DATABASE_OWNER = dj_database_url.parse(
    os.environ.get("CASEBOUND_OWNER_DATABASE_URL")
    or os.environ.get("DATABASE_URL", "postgres://postgres@localhost/casebound"))
if os.environ.get("CASEBOUND_DB_NAME"):  # a test worker joins the test database pytest made
    DATABASES["default"]["NAME"] = os.environ["CASEBOUND_DB_NAME"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: a locked account is refused before anything
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"

# CJIS IA-2 / AC-7 / AC-11 / AC-12 (docs/security.md).
SESSION_COOKIE_AGE = 12 * 3600  # absolute limit, also enforced by SessionLimitsMiddleware
SESSION_COOKIE_HTTPONLY = True
SESSION_IDLE_SECONDS = int(os.environ.get("CASEBOUND_SESSION_IDLE_SECONDS", 30 * 60))
SESSION_ABSOLUTE_SECONDS = 12 * 3600
API_TOKEN_TTL_SECONDS = int(os.environ.get("CASEBOUND_TOKEN_TTL_SECONDS", 12 * 3600))
ACCOUNT_INACTIVE_DAYS = 90
# Invitation links go by e-mail to the invitee only (the inviting admin never sees them).
EMAIL_BACKEND = os.environ.get("CASEBOUND_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("CASEBOUND_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("CASEBOUND_EMAIL_PORT", 25))
EMAIL_HOST_USER = os.environ.get("CASEBOUND_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("CASEBOUND_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("CASEBOUND_EMAIL_TLS", "") == "1"
DEFAULT_FROM_EMAIL = os.environ.get("CASEBOUND_EMAIL_FROM", "casebound@localhost")
OTP_TOTP_ISSUER = "Casebound"
# Wrong codes are counted by the lockout (5 in 15 minutes, AXES_*) and the rate limits; django-otp's
# own per-device back-off would, on top, refuse the next *right* code as if it were wrong.
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_ADMIN_HIDE_SENSITIVE_DATA = True  # no TOTP seed or QR code in the admin, whoever asks
AXES_FAILURE_LIMIT = 5  # within 15 minutes (agencies/accounts/lockout.py)
AXES_HANDLER = "agencies.accounts.lockout.WindowedLockoutHandler"
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # the per-failure times the 15-minute window is read from
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_COOLOFF_TIME = None  # a locked account stays locked until an admin unlocks it
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "agencies.accounts.views.lockout_response"
AXES_HTTP_RESPONSE_CODE = 403
AXES_VERBOSE = False
RATELIMIT_VIEW = "portal.api.rate_limited"
LOGIN_RATE = os.environ.get("CASEBOUND_RATE_LOGIN", "20/m")  # per client address
PUBLIC_RATE = os.environ.get("CASEBOUND_RATE_PUBLIC", "10/hour")  # public opt-outs, page and API
# How many proxies of the operator's own stand in front of the portal; X-Forwarded-For is believed
# only that far (portal/client_ip.py). 0: the header is ignored and REMOTE_ADDR is the client.
TRUSTED_PROXIES = int(os.environ.get("CASEBOUND_TRUSTED_PROXIES", 0))
RATELIMIT_IP_META_KEY = "portal.client_ip.client_ip"
AXES_CLIENT_IP_CALLABLE = "portal.client_ip.client_ip"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
ANONYMOUS_USER_NAME = None  # guardian: no anonymous object permissions, ever

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# USWDS's compiled CSS, JS, fonts and images, installed by npm at set-up (Makefile), served as
# /static/uswds/...: from this server only, never a CDN, and nothing of the package is committed.
USWDS_DIST = BASE_DIR / "node_modules" / "@uswds" / "uswds" / "dist"
STATICFILES_DIRS = [BASE_DIR / "static", ("uswds", USWDS_DIST)]
STATIC_ROOT = VAR_DIR / "static"
# Biometric files live outside any web root; they are served only by views that check the agency.
PRIVATE_MEDIA_ROOT = Path(os.environ.get("CASEBOUND_MEDIA_ROOT", VAR_DIR / "media"))
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": PRIVATE_MEDIA_ROOT, "base_url": None},
    },
    # Hashed, compressed copies made by `collectstatic` (run by `make run`): cached for ever by
    # browsers, served by whitenoise.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 30 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 30 * 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "agencies.accounts.authentication.ExpiringTokenAuthentication",
        "agencies.accounts.authentication.VerifiedSessionAuthentication",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "token": os.environ.get("CASEBOUND_RATE_TOKEN", "10/min"),
        "search": os.environ.get("CASEBOUND_RATE_SEARCH", "30/min"),
        "public": PUBLIC_RATE,
    },
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "NUM_PROXIES": TRUSTED_PROXIES,  # for any DRF throttle; ours use portal.client_ip directly
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "portal.api.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "portal.api.Pagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Casebound API",
    "DESCRIPTION": "Case-bound face search. Candidates are investigative leads, not identifications.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "agencies.accounts.schema.error_responses"],
    # Swagger UI from the installed sidecar package: no page loads anything from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "OffenceCategoryEnum": "search.models.OffenceCategory",
        "CaseStatusEnum": "search.models.CaseStatus",
        "SearchStatusEnum": "search.models.SearchStatus",
        "CandidateStatusEnum": "search.models.CandidateStatus",
        "OptOutStatusEnum": "search.models.OptOutStatus",
    },
}
# axes locks by username; client addresses are rate-limited separately (django-ratelimit on the
# sign-in page, DRF throttles on the token endpoint), so one station's NAT cannot lock everyone.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

def _cache_url(broker_url: str) -> str:
    """The broker's Redis, database 1: Django's cache speaks unix:// where Celery says
    redis+socket://, and a cache flush must never touch the queues in database 0."""
    if broker_url.startswith("redis+socket://"):
        return broker_url.replace("redis+socket://", "unix://", 1).split("?")[0] + "?db=1"
    base, _, _db = broker_url.rpartition("/")
    return f"{base}/1" if base.count("/") >= 2 else f"{broker_url}/1"


# Shared by every web process: rate limits, lockout counters and throttles must agree.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ.get("REDIS_CACHE_URL")
        or _cache_url(os.environ.get("REDIS_URL", "redis://localhost:6379/0")),
        "KEY_PREFIX": "casebound",
    }
}

# Celery: nothing is lost when a worker dies (see docs/architecture.md, "Celery that loses nothing").
CELERY_BROKER_URL = os.environ.get("REDIS_URL", "redis://localhost:6379/0")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "casebound"  # periodic and maintenance jobs
# Each kind of work has its own queue and worker, so a search never waits behind an enrollment.
CELERY_TASK_ROUTES = {
    "search.tasks.run_search": {"queue": "searches"},
    "search.tasks.enroll_batch_items": {"queue": "bulk"},
    "search.tasks.run_reembed": {"queue": "bulk"},
}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "requeue-stale-searches": {"task": "search.tasks.sweep_stale_searches", "schedule": 60.0},
    # Searches and enrollment items of workers that are gone (no heartbeat) go back within seconds.
    "recover-orphaned-work": {"task": "search.tasks.recover_orphaned_work", "schedule": 10.0},
    "expire-case-authorizations": {"task": "search.tasks.expire_cases", "schedule": 3600.0},
    "disable-inactive-accounts": {"task": "agencies.tasks.disable_inactive_accounts",
                                  "schedule": 24 * 3600.0},
    "purge-expired": {"task": "search.tasks.purge_expired", "schedule": 24 * 3600.0},
    "maintain-vector-indexes": {"task": "search.tasks.maintain_vector_indexes",
                                "schedule": 24 * 3600.0},
    "refresh-face-cohorts": {"task": "search.tasks.maintain_face_cohorts", "schedule": 3600.0},
    "sign-audit-checkpoints": {"task": "agencies.tasks.sign_audit_checkpoints",
                               "schedule": crontab(minute=15, hour=0)},
    "close-billing-period": {"task": "agencies.tasks.close_billing_period",
                             "schedule": crontab(minute=30, hour=0, day_of_month=1)},
}

CASEBOUND: dict[str, Any] = {
    "MAX_UPLOAD_BYTES": int(os.environ.get("CASEBOUND_MAX_UPLOAD_BYTES", 20 * 1024 * 1024)),
    "MAX_IMAGE_PIXELS": int(os.environ.get("CASEBOUND_MAX_IMAGE_PIXELS", 40_000_000)),
    "SEARCH_MAX_ATTEMPTS": 3,
    "SEARCH_STALE_SECONDS": int(os.environ.get("CASEBOUND_SEARCH_STALE_SECONDS", 300)),
    # A search whose worker is alive is never run again, however long it takes; past this many
    # seconds of one run it is failed instead (a stuck stage), and the officer's page says so.
    "SEARCH_RUN_LIMIT_SECONDS": int(os.environ.get("CASEBOUND_SEARCH_RUN_LIMIT_SECONDS", 1800)),
    # A worker process whose heartbeat is older than this is gone; its searches are given back.
    "WORKER_HEARTBEAT_TTL": int(os.environ.get("CASEBOUND_WORKER_HEARTBEAT_TTL", 10)),
    # Opt-outs and court orders remove faces at least this similar (stricter than search: 0.90).
    "OPT_OUT_SIMILARITY": float(os.environ.get("CASEBOUND_OPT_OUT_SIMILARITY", 0.93)),
    # An opt-out reaches review only once its e-mail link is followed within this many hours;
    # unconfirmed requests are then purged with their photo.
    "OPT_OUT_CONFIRM_HOURS": int(os.environ.get("CASEBOUND_OPT_OUT_CONFIRM_HOURS", 48)),
    # Agencies holding matching faces may object within this many days; silence confirms.
    "OPT_OUT_OBJECTION_DAYS": int(os.environ.get("CASEBOUND_OPT_OUT_OBJECTION_DAYS", 14)),
    # Removed faces stay restorable this many days before the daily purge deletes them.
    "OPT_OUT_GRACE_DAYS": int(os.environ.get("CASEBOUND_OPT_OUT_GRACE_DAYS", 30)),
    # An agency gets its own HNSW graph from this many faces; below it, exact search is faster.
    "VECTOR_INDEX_MIN_FACES": int(os.environ.get("CASEBOUND_VECTOR_INDEX_MIN_FACES", 20000)),
    "HNSW_EF_SEARCH": int(os.environ.get("CASEBOUND_HNSW_EF_SEARCH", 600)),
    # The search takes this many faces by raw similarity and orders them by the normalized score.
    "RERANK_CANDIDATES": int(os.environ.get("CASEBOUND_RERANK_CANDIDATES", 200)),
    # An agency's face cohorts are recomputed once this share of its faces has changed (and at
    # least COHORT_REFRESH_MIN_CHANGES faces): hourly by beat, and after bulk enrollment or removal.
    "COHORT_REFRESH_SHARE": float(os.environ.get("CASEBOUND_COHORT_REFRESH_SHARE", 0.05)),
    "COHORT_REFRESH_MIN_CHANGES": int(os.environ.get("CASEBOUND_COHORT_REFRESH_MIN_CHANGES", 20)),
    # Where the score calibration tables are (one per face recipe; `manage.py calibrate`).
    "CALIBRATION_DIR": Path(os.environ.get("CASEBOUND_CALIBRATION_DIR", BASE_DIR / "fixtures")),
    # The line is drawn on the normalized score from this many faces of a recipe up, on the raw
    # cosine below; unset: the normalized table's own `min_gallery` (docs/architecture.md, "The line").
    "NORMALIZED_MIN_GALLERY": (int(os.environ["CASEBOUND_NORMALIZED_MIN_GALLERY"])
                               if os.environ.get("CASEBOUND_NORMALIZED_MIN_GALLERY") else None),
    # The most memory one agency's graph build may take (2 KB a face: 4 GB is ~2M faces).
    "INDEX_BUILD_MEMORY_MAX_MB": int(os.environ.get("CASEBOUND_INDEX_BUILD_MEMORY_MAX_MB", 4096)),
    # The role DATABASE_URL connects as; `migrate` grants it row access to every table.
    "DB_APP_ROLE": os.environ.get("CASEBOUND_DB_APP_ROLE", "casebound_app"),
    # Ed25519 key that signs the audit chains' heads; it must live outside the database (or be
    # given as the CASEBOUND_AUDIT_SIGNING_KEY secret). devservices creates one, mode 0600.
    "AUDIT_SIGNING_KEY_FILE": Path(os.environ.get("CASEBOUND_AUDIT_SIGNING_KEY_FILE",
                                                  VAR_DIR / "audit-signing-key.pem")),
    # Where the daily job appends the signed heads (checkpoints.jsonl); the operator archives it.
    "AUDIT_CHECKPOINT_DIR": Path(os.environ.get("CASEBOUND_AUDIT_CHECKPOINT_DIR",
                                                VAR_DIR / "audit-checkpoints")),
    # Where invitation e-mails point when no request says (API clients, scripts).
    "SITE_URL": os.environ.get("CASEBOUND_SITE_URL", "http://localhost:8000"),
    # Bearer token that lets a scraper elsewhere read /metrics (the loopback needs none); empty:
    # only the loopback. Use a long random value.
    "METRICS_TOKEN": os.environ.get("CASEBOUND_METRICS_TOKEN", ""),
    # Face recipes beyond the built-in `Dlib+mirror` and `Dlib` (portal/recipes.py), as JSON: a
    # list of {"name", "deepface_model", "dimensions", "chip_size", "chip_padding", "mirror",
    # "weights"}; the weight files go under $DEEPFACE_HOME/.deepface/weights/.
    "RECIPES": json.loads(os.environ.get("CASEBOUND_RECIPES", "[]")),
    # The recipe a new agency starts with; an agency moves to another with `manage.py reembed`.
    "DEFAULT_RECIPE": os.environ.get("CASEBOUND_DEFAULT_RECIPE", "Dlib+mirror"),
    # Enrolled photos are kept (re-encoded, no metadata) for a future recipe, at most this size.
    "SOURCE_PHOTO_MAX_SIDE": int(os.environ.get("CASEBOUND_SOURCE_PHOTO_MAX_SIDE", 1024)),
    # A re-embedding job commits its progress every this many faces.
    "REEMBED_BATCH": int(os.environ.get("CASEBOUND_REEMBED_BATCH", 50)),
}

# JSON lines with the request id (portal/logs.py); CASEBOUND_LOG_FORMAT=console for readable lines.
LOG_FORMAT = os.environ.get("CASEBOUND_LOG_FORMAT", "json")
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = logging_config(json=LOG_FORMAT != "console", level=LOG_LEVEL)
configure_structlog()
