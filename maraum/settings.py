"""Maraum settings: one file, driven by environment variables (a `.env` file is read if present)."""

import secrets
from pathlib import Path

import environ
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = BASE_DIR / ".data"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")  # optional: a missing file is fine


def _dev_secret_key() -> str:
    # Without SECRET_KEY we keep a random one under .data/ so sessions survive restarts.
    path = DATA_DIR / "secret_key"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="") or _dev_secret_key()
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "channels",
    "accounts",
    "scenarios",
    "chat",
    "eventlog",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Runs each request as the learner (or staff) that row-level security keys on.
    "accounts.middleware.RowLevelSecurityMiddleware",
]

ROOT_URLCONF = "maraum.urls"
ASGI_APPLICATION = "maraum.asgi.application"

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

# --- Database -----------------------------------------------------------------------------
# DATABASE_URL picks a server; without it the embedded PostgreSQL under .data/ is used.
DATABASE_URL = env.str("DATABASE_URL", default="")
if not DATABASE_URL:
    from maraum.embedded_db import embedded_database_url

    DATABASE_URL = embedded_database_url(DATA_DIR)

DATABASES = {"default": env.db_url_config(DATABASE_URL)}
DATABASES["default"]["ENGINE"] = "django.db.backends.postgresql"
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if env.bool("DATABASE_POOL", default=False):
    # psycopg's pool through Django (5.1+); connections are kept across requests, so
    # CONN_MAX_AGE must stay 0. The row-level security settings are transaction-local,
    # so a pooled connection carries nothing from one learner to the next.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=2),
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=20),
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Accounts -----------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Failed logins: at most LOGIN_FAILURE_LIMIT per account and per client address within
# LOGIN_FAILURE_WINDOW seconds; then locked until the window (from the first failure) ends.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_FAILURE_WINDOW = env.int("LOGIN_FAILURE_WINDOW", default=15 * 60)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# --- Cache (login throttling) ------------------------------------------------------------------
# The default is per process: with several processes set CACHE_URL (e.g. redis://...).
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}

# --- Email (password reset) -------------------------------------------------------------------
# EMAIL_URL, e.g. smtp+tls://user:password@smtp.example.com:587; default: printed to the console.
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Maraum <noreply@localhost>")
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=60 * 60 * 3)

# --- Content Security Policy (django-csp 4) ---------------------------------------------------
# No inline scripts or styles anywhere: everything comes from our own origin. 'self' in
# connect-src also covers ws:/wss: to the same host in current browsers.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "connect-src": [SELF],
        "img-src": [SELF, "data:"],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "object-src": [NONE],
    }
}

# --- Channels -----------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "maraum.channel_layers.ThrottledInMemoryChannelLayer"}}

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Only for `collectstatic` in a deployment that wants files on disk; not needed to serve.
STATIC_ROOT = env.str("STATIC_ROOT", default="") or None
# Served by whitenoise straight from the source folders: no collectstatic step to forget.
# Third-party files carry their version in their names, so they can be cached for long.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Logging: never message content; our own loggers name ids and counts only ----------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# --- The model ------------------------------------------------------------------------------
# Without ANTHROPIC_API_KEY the app runs the offline scripted partner (chat/offline.py).
ANTHROPIC_API_KEY = env.str("ANTHROPIC_API_KEY", default="")
ANTHROPIC_BASE_URL = env.str("ANTHROPIC_BASE_URL", default="") or None
CHARACTER_MODEL = env.str("CHARACTER_MODEL", default="claude-sonnet-4-6")
HELPER_MODEL = env.str("HELPER_MODEL", default="claude-haiku-4-5")
CHARACTER_MAX_TOKENS = env.int("CHARACTER_MAX_TOKENS", default=400)
HELPER_MAX_TOKENS = env.int("HELPER_MAX_TOKENS", default=600)
MODEL_TIMEOUT = env.float("MODEL_TIMEOUT", default=60.0)  # whole reply, seconds
MODEL_FIRST_TOKEN_TIMEOUT = env.float("MODEL_FIRST_TOKEN_TIMEOUT", default=20.0)
MODEL_RETRY_ATTEMPTS = env.int("MODEL_RETRY_ATTEMPTS", default=3)  # tries before a first token
MODEL_RETRY_BASE_DELAY = env.float("MODEL_RETRY_BASE_DELAY", default=0.5)  # doubles each retry
OFFLINE_TOKEN_DELAY = env.float("OFFLINE_TOKEN_DELAY", default=0.04)  # seconds between words
# System prompts: prompts/<scenario code>.md and prompts/helper.md unless overridden, e.g.
# PROMPT_MARKETPLACE_PATH=/etc/maraum/marketplace.md or PROMPT_HELPER_PATH=...
PROMPTS_DIR = BASE_DIR / "prompts"

# --- The chat -------------------------------------------------------------------------------
CHAT_MESSAGE_MAX_LENGTH = env.int("CHAT_MESSAGE_MAX_LENGTH", default=1000)
CHAT_RATE_LIMIT = env.int("CHAT_RATE_LIMIT", default=12)  # learner messages...
CHAT_RATE_WINDOW = env.float("CHAT_RATE_WINDOW", default=60.0)  # ...per this many seconds
CHAT_FRAME_INTERVAL = env.float("CHAT_FRAME_INTERVAL", default=0.05)  # ≤ 20 frames/s a reply
