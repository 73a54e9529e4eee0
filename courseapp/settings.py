"""Settings, driven by the environment.

With nothing set, the service runs on embedded defaults that need no server: SQLite at
var/db.sqlite3 and Celery's kombu filesystem broker under var/broker/. Set DATABASE_URL and
REDIS_URL to use Postgres and Redis (docker-compose.yml and scripts/test.sh do).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept in var/ (never in git)."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = VAR_DIR / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(50)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "courseapp.apps.CourseappConfig",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "courseapp.api.apps.ApiConfig",
    "courseapp.lti.apps.LtiConfig",
    "courseapp.review.apps.ReviewConfig",
]

MIDDLEWARE = [
    "courseapp.metrics.HealthzMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before the session middleware: it adjusts the cookies and framing headers set after it (LTI sessions only).
    "courseapp.lti.middleware.LtiFramingMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "courseapp.security.ContentSecurityPolicyMiddleware",
    "courseapp.security.LoginThrottleMiddleware",
]

ROOT_URLCONF = "courseapp.urls"
WSGI_APPLICATION = "courseapp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

if not os.environ.get("DATABASE_URL"):
    VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        # A kept connection is checked before reuse: a database restart costs one reconnect, not errors.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # One SQLite file shared by the web, the worker and the reconciler: WAL lets readers run beside
    # a writer, IMMEDIATE takes the write lock when a transaction starts (a deferred one that later
    # wants to write fails at once with "database is locked" instead of waiting), and the timeout is
    # how long a writer waits for another before giving up.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The grading workers' own database role (`manage.py create_db_roles`, run by compose's setup job):
# SELECT on the course data except what is hidden, and only these writes.
GRADER_DB_ROLE = os.environ.get("GRADER_DB_ROLE", "courseapp_grader")
GRADER_DB_WRITES = {
    "courseapp.Result": ["INSERT"],  # the grade
    "courseapp.GradingJob": ["UPDATE"],  # status, attempts, progress
    "lti.Passback": ["INSERT", "UPDATE"],  # the LTI outbox row a grade change marks due
}
GRADER_DB_HIDDEN = ["auth.User.password", "sessions.Session", "api.ApiToken", "lti.ToolKey", "admin.LogEntry"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "exercise-list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# collectstatic's target (the Docker image sets it); unset, WhiteNoise serves app static files from the finders.
STATIC_ROOT = os.environ.get("STATIC_ROOT") or None
WHITENOISE_USE_FINDERS = True

# ---- web security -------------------------------------------------------------------------
# HTTPS=1 in production (served over TLS, directly or behind a proxy that sets X-Forwarded-Proto
# when SECURE_PROXY_SSL_HEADER=1): secure cookies, redirect to https, HSTS.
HTTPS = env_bool("HTTPS", False)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", HTTPS)
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(14 * 24 * 3600)))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000" if HTTPS else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", HTTPS)
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Health checks and /metrics scrapes over plain http inside the deployment network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# Scripts and styles only from this origin; no inline script, no plugins, no framing, forms post
# here only. Inline style *attributes* are allowed (bar widths), <style> elements are not.
CONTENT_SECURITY_POLICY = os.environ.get(
    "CONTENT_SECURITY_POLICY",
    "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "style-src-attr 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    ),
)
# Request size limits: a form body (a submission is at most 64 KiB of source; percent-encoding can
# triple it) and no uploads kept in memory beyond this.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("DATA_UPLOAD_MAX_MEMORY_SIZE", str(512 * 1024)))
FILE_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("FILE_UPLOAD_MAX_MEMORY_SIZE", str(512 * 1024)))
DATA_UPLOAD_MAX_NUMBER_FIELDS = int(os.environ.get("DATA_UPLOAD_MAX_NUMBER_FIELDS", "400"))
DATA_UPLOAD_MAX_NUMBER_FILES = 5
# Login throttling (courseapp.security): failed logins per username and per address.
LOGIN_MAX_FAILURES = int(os.environ.get("LOGIN_MAX_FAILURES", "8"))
LOGIN_FAILURE_WINDOW_S = int(os.environ.get("LOGIN_FAILURE_WINDOW_S", "900"))
# Failures allowed per (address, username) before the back-off starts, and per address alone.
LOGIN_MAX_FAILURES_PER_IP = int(os.environ.get("LOGIN_MAX_FAILURES_PER_IP", "50"))
# The wait after each failure past the limit: BASE x 2^k seconds, at most MAX.
LOGIN_BACKOFF_BASE_S = int(os.environ.get("LOGIN_BACKOFF_BASE_S", "30"))
LOGIN_BACKOFF_MAX_S = int(os.environ.get("LOGIN_BACKOFF_MAX_S", "900"))
# Proxies in front of Django that append the peer's address to X-Forwarded-For (0: none, the header
# is ignored). The client address is the hop that many from the right. The older
# LOGIN_THROTTLE_TRUST_FORWARDED_FOR=1 means one proxy.
LOGIN_THROTTLE_TRUST_FORWARDED_FOR = env_bool("LOGIN_THROTTLE_TRUST_FORWARDED_FOR", False)
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "1" if LOGIN_THROTTLE_TRUST_FORWARDED_FOR else "0"))
LOGIN_THROTTLE_CACHE = "default"

# Structured logs (LOG_FORMAT=json, the default): one JSON object per line on stderr, carrying the
# submission and job ids of the grade in progress. LOG_FORMAT=text for a terminal.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "courseapp.logs.ContextFilter"}},
    "formatters": {
        "json": {"()": "courseapp.logs.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["context"],
            "formatter": "json" if LOG_FORMAT == "json" else "text",
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "courseapp": {"level": os.environ.get("LOG_LEVEL", "INFO")},
        "grader": {"level": os.environ.get("LOG_LEVEL", "INFO")},
        # django.request's own handler (mail_admins) stays; its records reach the root console too
    },
}
# /metrics (Prometheus text): staff users, or `Authorization: Bearer $METRICS_TOKEN` when set.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

# Shared by every web process (login throttling): Redis when REDIS_URL is set, else local memory.
# Every request reads its session: from Redis when there is one (written through to the database, which
# stays the record), saving each page and status poll a database query. Local memory is per process,
# so without Redis the sessions stay in the database (a logout must reach every web process).
if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "courseapp.cache.ReusingRedisCache",  # Django's, one client per pool
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": (os.environ.get("REDIS_KEY_PREFIX", "") + "cache"),
            "TIMEOUT": 300,
        }
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "courseapp"}}
    SESSION_ENGINE = "django.contrib.sessions.backends.db"

# ---- the course -------------------------------------------------------------------------
EXERCISES_DIR = Path(os.environ.get("EXERCISES_DIR", BASE_DIR / "exercises"))
COURSE_SLUG = os.environ.get("COURSE_SLUG", "resnets")
COURSE_TITLE = os.environ.get("COURSE_TITLE", "Why ResNets work")
# Where workers unpack an exercise revision's files to grade against exactly that revision.
EXERCISE_CACHE_DIR = Path(os.environ.get("EXERCISE_CACHE_DIR", VAR_DIR / "exercise-cache"))
# Where sync_exercises records the folders whose self-test passed (and their references' measured
# cost), keyed by content, catalogue, grader code and host: a restart does not grade them again
# (grader.selftest.pass_key). Empty: record nothing, test every folder at every sync.
GRADER_SELFTEST_CACHE_DIR = os.environ.get("GRADER_SELFTEST_CACHE_DIR", str(VAR_DIR / "selftest-cache"))

# ---- grading ----------------------------------------------------------------------------
GRADER_DEVICE = os.environ.get("GRADER_DEVICE", "cpu")
# Infrastructure failures (the grader raised) are retried with back-off, then the job fails.
GRADING_MAX_ATTEMPTS = int(os.environ.get("GRADING_MAX_ATTEMPTS", "3"))
GRADING_RETRY_BACKOFF_S = float(os.environ.get("GRADING_RETRY_BACKOFF_S", "5"))
# Each job's Celery time limits come from its exercise's sandbox wall limit, so they always nest:
#   sandbox wall_s  <  soft = wall_s + GRADING_SOFT_MARGIN_S  <  hard = soft + GRADING_HARD_MARGIN_S
# The soft limit fails the job with a clear message; the hard limit kills the worker process.
GRADING_SOFT_MARGIN_S = int(os.environ.get("GRADING_SOFT_MARGIN_S", "60"))
GRADING_HARD_MARGIN_S = int(os.environ.get("GRADING_HARD_MARGIN_S", "30"))
# The longest sandbox wall limit an exercise may ask for (sync_exercises refuses more).
GRADING_MAX_WALL_S = int(os.environ.get("GRADING_MAX_WALL_S", "900"))
# Limits sized to the work (#13): sync_exercises measures each module reference's grading cost and
# stores max(floor, 10 x cost) per limit on the revision, the TOML value as the ceiling. Off: TOML limits.
GRADING_LIMITS_FROM_REFERENCE = env_bool("GRADING_LIMITS_FROM_REFERENCE", True)
# The Celery worker process runs at this nice level (0..19), so on a small machine the web keeps the
# CPU it needs while every core grades; the sandboxes run at GRADER_NICE (grader/sandbox/hostcheck.py).
GRADING_WORKER_NICE = int(os.environ.get("GRADING_WORKER_NICE", "10"))
# An exercise's queue ("cpu" or "gpu" in exercise.toml) picks the Celery queue. Without GPU workers
# (GRADING_GPU_WORKERS unset) gpu exercises go to grade.cpu and are graded on the CPU.
GRADING_GPU_WORKERS = env_bool("GRADING_GPU_WORKERS", False)
GRADING_CPU_QUEUE = "grade.cpu"
GRADING_GPU_QUEUE = "grade.gpu"
GRADING_QUEUES = {"cpu": GRADING_CPU_QUEUE, "gpu": GRADING_GPU_QUEUE if GRADING_GPU_WORKERS else GRADING_CPU_QUEUE}

# Per-student queue limits (courseapp.services.fairness), the defaults for a course and exercise
# that set none: jobs queued or running per exercise, submissions per exercise per minute (0: none).
GRADING_MAX_IN_FLIGHT = int(os.environ.get("GRADING_MAX_IN_FLIGHT", "1"))
GRADING_MAX_PER_MINUTE = int(os.environ.get("GRADING_MAX_PER_MINUTE", "6"))

# ---- reconciler (courseapp.services.reconcile; periodic task + `manage.py reconcile_jobs`) ----------
# A running job is lost when it runs past its hard time limit plus this grace.
RECONCILE_GRACE_S = int(os.environ.get("RECONCILE_GRACE_S", "30"))
# A queued job not started after this long is sent again (its message may be lost).
RECONCILE_QUEUED_AFTER_S = int(os.environ.get("RECONCILE_QUEUED_AFTER_S", "600"))
# A job still unfinished this long after its submission fails with a clear message.
RECONCILE_GIVE_UP_AFTER_S = int(os.environ.get("RECONCILE_GIVE_UP_AFTER_S", str(6 * 3600)))
RECONCILE_INTERVAL_S = float(os.environ.get("RECONCILE_INTERVAL_S", "30"))
MAINTENANCE_QUEUE = "maintenance"

# ---- Celery (namespace CELERY_) ---------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
# A prefix for every broker key in Redis, so several deployments (or test runs) can share one Redis db.
REDIS_KEY_PREFIX = os.environ.get("REDIS_KEY_PREFIX", "")
BROKER_DIR = VAR_DIR / "broker"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        # Longer than any job's hard time limit, so a slow job is never handed to a second worker.
        "visibility_timeout": 2 * (GRADING_MAX_WALL_S + GRADING_SOFT_MARGIN_S + GRADING_HARD_MARGIN_S),
    }
    # Fair queues (courseapp.services.fairness): one Redis list per priority 0..9, a worker always
    # takes from the most urgent; a job's priority is how many of its student's jobs are ahead of it.
    CELERY_BROKER_TRANSPORT_OPTIONS["priority_steps"] = list(range(10))
    CELERY_BROKER_TRANSPORT_OPTIONS["queue_order_strategy"] = "priority"
    if REDIS_KEY_PREFIX:
        CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = REDIS_KEY_PREFIX
else:
    # Embedded broker: messages are files; producers and workers on one machine share var/broker/.
    CELERY_BROKER_URL = "filesystem://"
    for _sub in ("queue", "processed", "control"):
        (BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        # kombu's virtual transports sleep polling_interval (1 s by default) whenever the queue
        # folder is empty, so a job queued on an idle worker waited up to a second. Listing one
        # small folder 50 times a second costs well under 1% of a core (bench/embedded_broker.py).
        "polling_interval": float(os.environ.get("EMBEDDED_BROKER_POLL_S", "0.02")),
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = GRADING_CPU_QUEUE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Tests may run tasks in-process (CELERY_TASK_ALWAYS_EAGER=1); the service never does by default.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
# The reconciler runs on its own queue (the beat service consumes it), never behind a grading rush.
CELERY_TASK_ROUTES = {"courseapp.reconcile_jobs": {"queue": MAINTENANCE_QUEUE}}
CELERY_BEAT_SCHEDULE = {
    "reconcile-grading-jobs": {
        "task": "courseapp.reconcile_jobs",
        "schedule": RECONCILE_INTERVAL_S,
        "options": {"queue": MAINTENANCE_QUEUE, "expires": RECONCILE_INTERVAL_S},
    },
}

# The token API (courseapp/api, /api/v1/): `Authorization: Bearer <token>`, JSON only (no browsable
# API: its pages need inline scripts the CSP forbids), per-user request rates in the shared cache.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "courseapp.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {
        "api": os.environ.get("API_THROTTLE_RATE", "300/min"),
        "api_submit": os.environ.get("API_SUBMIT_THROTTLE_RATE", "30/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Residual networks grading API",
    "DESCRIPTION": "Submit work, follow its grading and read results; instructors list submissions, "
    "export grades and start regrades. Authenticate with `Authorization: Bearer <token>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# ---- LTI 1.3 (courseapp.lti) -------------------------------------------------------------------
# The site's public base URL (https://grader.example.edu): the tool's URLs given to platforms and
# printed by lti_add_platform are built on it; unset, on the request's host (or printed as paths).
PUBLIC_URL = os.environ.get("PUBLIC_URL", "").rstrip("/")
LTI_CACHE = "default"  # OIDC state and nonces (shared by every web process: Redis when REDIS_URL is set)
LTI_NONCE_TTL_S = int(os.environ.get("LTI_NONCE_TTL_S", "600"))  # a login must come back within this
LTI_PLATFORM_KEYS_CACHE_S = int(os.environ.get("LTI_PLATFORM_KEYS_CACHE_S", "300"))
LTI_HTTP_TIMEOUT_S = float(os.environ.get("LTI_HTTP_TIMEOUT_S", "15"))
# Platforms' service access tokens are reused this long (they are usually valid an hour; a refused
# one is dropped at once).
LTI_TOKEN_CACHE_S = int(os.environ.get("LTI_TOKEN_CACHE_S", "600"))
# Grade passback: a refused send is retried after BACKOFF_S, doubling up to BACKOFF_MAX_S, forever;
# the periodic drain sends whatever is due every INTERVAL_S. A send holds its row for LEASE_S.
LTI_PASSBACK_BACKOFF_S = float(os.environ.get("LTI_PASSBACK_BACKOFF_S", "10"))
LTI_PASSBACK_BACKOFF_MAX_S = float(os.environ.get("LTI_PASSBACK_BACKOFF_MAX_S", "900"))
LTI_PASSBACK_INTERVAL_S = float(os.environ.get("LTI_PASSBACK_INTERVAL_S", "60"))
LTI_PASSBACK_LEASE_S = int(os.environ.get("LTI_PASSBACK_LEASE_S", "120"))
CELERY_TASK_ROUTES.update(
    {"lti.passback_send": {"queue": MAINTENANCE_QUEUE}, "lti.passback_drain": {"queue": MAINTENANCE_QUEUE}}
)
CELERY_BEAT_SCHEDULE["lti-passback-drain"] = {
    "task": "lti.passback_drain",
    "schedule": LTI_PASSBACK_INTERVAL_S,
    "options": {"queue": MAINTENANCE_QUEUE, "expires": LTI_PASSBACK_INTERVAL_S},
}

# ---- free-text review work done by Celery (courseapp.review.tasks) -------------------------------
# Recalibrating a threshold and computing a regrade report embed answers with the free-text model,
# which the grading workers keep warm: they run there, sent at priority 0 (ahead of students' queued
# jobs; a recalibration takes seconds). A report examines REVIEW_REPORT_CHUNK answers between two
# progress updates; a task still "running" after REVIEW_TASK_STALE_S counts as lost (sending it
# again runs it again).
REVIEW_TASK_QUEUE = os.environ.get("REVIEW_TASK_QUEUE", GRADING_CPU_QUEUE)
REVIEW_REPORT_CHUNK = int(os.environ.get("REVIEW_REPORT_CHUNK", "100"))
REVIEW_TASK_SOFT_LIMIT_S = int(os.environ.get("REVIEW_TASK_SOFT_LIMIT_S", "1800"))
REVIEW_TASK_STALE_S = int(os.environ.get("REVIEW_TASK_STALE_S", str(REVIEW_TASK_SOFT_LIMIT_S + 120)))
CELERY_TASK_ROUTES.update(
    {"review.recalibrate": {"queue": REVIEW_TASK_QUEUE}, "review.regrade_report": {"queue": REVIEW_TASK_QUEUE}}
)
