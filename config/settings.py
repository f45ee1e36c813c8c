"""Offerwise settings, read from the environment.

Two profiles: ``development`` (the default: SQLite under ``var/``, Celery over the
filesystem broker, console e-mail) and ``production`` (``OFFERWISE_PROFILE=production``:
a real ``SECRET_KEY`` is required and the HTTPS hardening that ``check --deploy`` asks
for is on). ``DATABASE_URL`` and ``REDIS_URL`` switch to PostgreSQL and Redis.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

PROFILE = env.str("OFFERWISE_PROFILE", default="development")
if PROFILE not in {"development", "production"}:
    raise ImproperlyConfigured("OFFERWISE_PROFILE must be 'development' or 'production'.")
PRODUCTION = PROFILE == "production"

DATA_DIR = Path(env.str("OFFERWISE_DATA_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DEBUG", default=not PRODUCTION)

if PRODUCTION:
    # No fallback: a production process must never start with a guessable key.
    SECRET_KEY = env.str("SECRET_KEY")
else:
    SECRET_KEY = env.str("SECRET_KEY", default="development-only-insecure-key-do-not-deploy")

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=[] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]"]
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "whitenoise.runserver_nostatic",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "import_export",
    "django_celery_beat",
    "customers",
    "segments",
    "promotions",
    "loyalty",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.middleware.ApiBodySizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'offerwise.sqlite3'}"),
}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    # WAL lets the web process read while the Celery worker writes; IMMEDIATE takes the write
    # lock at BEGIN so two writers queue on the timeout instead of failing with "locked".
    _db["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    if env.str("OFFERWISE_TEST_SQLITE_FILE", default=""):
        # A file (not :memory:) test database, so that a real Celery worker process can
        # share it in the worker test.
        _db["TEST"] = {"NAME": env.str("OFFERWISE_TEST_SQLITE_FILE")}
else:
    _db.setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    # Off by default: a SELECT 1 before every request's first query costs a round trip on the
    # checkout's hot path. Without it, a connection broken by a database restart fails one
    # request per web process (Django then drops it) and the next one reconnects.
    _db["CONN_HEALTH_CHECKS"] = env.bool("DATABASE_CONN_HEALTH_CHECKS", default=False)
    if _db["ENGINE"] == "django.db.backends.postgresql":
        # JIT compilation added ~0.4 s to every large segment count and never paid back on
        # these short queries (bench/segments.py).
        _db.setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and Celery ---------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    _broker_dir = DATA_DIR / "celery" / "broker"
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(DATA_DIR / "celery" / "processed"),
        # Exchange bindings; kombu's default is a "control" folder in the working directory.
        "control_folder": str(DATA_DIR / "celery" / "control"),
        "store_processed": False,
    }
    CELERY_RESULT_BACKEND = f"file://{DATA_DIR / 'celery' / 'results'}"

CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)

# --- Auth, i18n, time ---------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
LOCALE_PATHS = [BASE_DIR / "locale"]

# --- Static files -------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- E-mail -------------------------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="offers@localhost")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)

# --- Production hardening -----------------------------------------------------------------
if PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- The product --------------------------------------------------------------------------
# One currency per installation, like a Voucherify project: stats and budgets are exact sums.
OFFERWISE_CURRENCY = env.str("OFFERWISE_CURRENCY", default="USD").upper()
# Request bodies above this size get 413 before they are parsed.
OFFERWISE_API_MAX_BODY_BYTES = env.int("OFFERWISE_API_MAX_BODY_BYTES", default=1024 * 1024)

# Redemption retries: answers to an Idempotency-Key are kept this long (at least 24 hours).
OFFERWISE_IDEMPOTENCY_HOURS = env.int("OFFERWISE_IDEMPOTENCY_HOURS", default=24)
# The checkout's reads as prepared statements on PostgreSQL (config/prepared.py); turn off
# behind a connection pooler that cannot keep prepared statements (PgBouncer < 1.21 in
# transaction mode).
OFFERWISE_PREPARED_STATEMENTS = env.bool("OFFERWISE_PREPARED_STATEMENTS", default=True)
# Seconds a verified API key is kept per web process (a key revoked elsewhere is refused by
# every process within this time); 0 verifies every request.
OFFERWISE_API_KEY_CACHE_SECONDS = env.int("OFFERWISE_API_KEY_CACHE_SECONDS", default=5)
# Code guessing: this many unknown codes from one customer or address within the window (s)
# block them for OFFERWISE_GUESS_BLOCK seconds and raise an alert.
OFFERWISE_GUESS_LIMIT = env.int("OFFERWISE_GUESS_LIMIT", default=10)
OFFERWISE_GUESS_WINDOW = env.int("OFFERWISE_GUESS_WINDOW", default=600)
OFFERWISE_GUESS_BLOCK = env.int("OFFERWISE_GUESS_BLOCK", default=900)

# A customer named "=HYPERLINK(...)" must stay text when an export opens in a spreadsheet.
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = True

# --- API ----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["customers.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["customers.api.authentication.HasApiKey"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "config.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "UNAUTHENTICATED_USER": None,
    # Validations and redemptions, per API key and per customer (promotions/api/throttles.py).
    "DEFAULT_THROTTLE_RATES": {
        "checkout_key": env.str("OFFERWISE_THROTTLE_PER_KEY", default="60000/min"),
        "checkout_customer": env.str("OFFERWISE_THROTTLE_PER_CUSTOMER", default="120/min"),
        # Loyalty wallet reads and redemptions (loyalty/api/throttles.py), counted apart.
        "wallet_key": env.str("OFFERWISE_WALLET_THROTTLE_PER_KEY", default="60000/min"),
        "wallet_customer": env.str("OFFERWISE_WALLET_THROTTLE_PER_CUSTOMER", default="120/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Offerwise API",
    "DESCRIPTION": (
        "Checkout and CRM API of Offerwise. Authenticate with `Authorization: Api-Key <key>`. "
        "Money is integer minor units with a currency code; timestamps are ISO-8601."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "customers.models.Order.Status",
        "CampaignStatusEnum": "promotions.models.Campaign.Status",
        "RedemptionStatusEnum": "promotions.models.Redemption.Status",
        "RedeemableStatusEnum": "promotions.api.checkout_serializers.REDEEMABLE_STATUSES",
        "CartStatusEnum": "customers.models.Cart.Status",
        "EventKindEnum": "customers.models.Event.Kind",
        "SegmentKindEnum": "segments.models.Segment.Kind",
    },
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI assets ship with the product (no CDN): the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# Development serves static files straight from the source folders; production from
# STATIC_ROOT after collectstatic.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG and not PRODUCTION
