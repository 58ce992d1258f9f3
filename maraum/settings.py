"""Maraum settings: one file, driven by environment variables (a `.env` file is read if present)."""

import os
import secrets
from pathlib import Path

import environ
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = BASE_DIR / ".data"

env = environ.Env()
if (BASE_DIR / ".env").is_file():  # optional: without one, the environment alone counts
    environ.Env.read_env(BASE_DIR / ".env")


def dev_secret_key(path: Path) -> str:
    # Without SECRET_KEY we keep a random one under .data/, readable by its owner only, so
    # sessions survive restarts.
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(50))
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)  # one written by an earlier version was readable by everyone
    return path.read_text().strip()


DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="") or dev_secret_key(DATA_DIR / "secret_key")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- HTTPS ------------------------------------------------------------------------------------
# On by default unless DEBUG: redirect to https, HSTS, cookies sent over https only. `make run`
# serves plain http on localhost and sets HTTPS=false; so do the tests.
HTTPS = env.bool("HTTPS", default=not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=HTTPS)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=HTTPS)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=HTTPS)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=HTTPS)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=HTTPS)
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (deploy/ does): trust it.
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "accounts",  # before auth: its createsuperuser (as the staff role) replaces auth's
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "channels",
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
    "scenarios",
    "learning",
    "chat",
    "eventlog",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "lib.form_bodies.FormBodiesInUtf8Middleware",  # before anything reads a form
    # One transaction per request; the session and user load as maraum_auth (lib/rls.py).
    "accounts.middleware.AccountsRoleMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",  # request.htmx: the request came from htmx
    "accounts.middleware.HtmxLoginRedirectMiddleware",
    "accounts.middleware.PrivatePagesMiddleware",
    # Runs each request as the learner (or staff) that row-level security keys on.
    "accounts.middleware.RowLevelSecurityMiddleware",
]

# Request bodies: Daphne refuses larger ones before reading them (maraum/serve.py); Django's
# own form limit matches.
MAX_REQUEST_BODY_BYTES = env.int("MAX_REQUEST_BODY_BYTES", default=1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES
# A websocket whose client has stopped reading is dropped once this much waits to be sent to
# it in the server's memory (maraum/serve.py): Daphne would hold any amount.
MAX_UNSENT_SOCKET_BYTES = env.int("MAX_UNSENT_SOCKET_BYTES", default=1024 * 1024)

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
                "learning.context_processors.cards_due",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
# DATABASE_URL is the runtime login (owns nothing; reaches data only through the policy roles
# of lib/rls.py); DATABASE_OWNER_URL the owner, that `migrate` runs as (defaults to
# DATABASE_URL: one role for both, which check_setup reports). Without DATABASE_URL the
# embedded PostgreSQL under .data/ is used, set up with both roles.
DATABASE_URL = env.str("DATABASE_URL", default="")
DATABASE_OWNER_URL = env.str("DATABASE_OWNER_URL", default="")
if not DATABASE_URL:
    from lib.embedded_db import embedded_database_urls

    DATABASE_URL, DATABASE_OWNER_URL = embedded_database_urls(DATA_DIR)

DATABASES = {"default": env.db_url_config(DATABASE_URL)}
_owner = env.db_url_config(DATABASE_OWNER_URL or DATABASE_URL)
DATABASE_OWNER_CREDENTIALS = {"USER": _owner["USER"], "PASSWORD": _owner["PASSWORD"]}
DATABASE_RUNTIME_CREDENTIALS = {
    "USER": DATABASES["default"]["USER"],
    "PASSWORD": DATABASES["default"]["PASSWORD"],
}
DATABASES["default"]["ENGINE"] = "lib.postgresql_backend"  # Django's, with a cheaper pool check
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASE_POOL_MAX_SIZE = env.int("DATABASE_POOL_MAX_SIZE", default=20)
# Threads a server process runs the chat's database work on (chat.replies.in_db): as many as
# the pool has connections, which the event loop's default executor (min(32, cores + 4)
# threads, 6 on 2 cores) could not all use. Its effect on the bench is within the machine's
# noise so far (README, "Benchmarks").
DATABASE_THREADS = env.int("DATABASE_THREADS", default=DATABASE_POOL_MAX_SIZE)
if env.bool("DATABASE_POOL", default=False):
    # psycopg's pool through Django (5.1+); connections are kept across requests, so
    # CONN_MAX_AGE must stay 0. The row-level security settings are transaction-local,
    # so a pooled connection carries nothing from one learner to the next.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=2),
        "max_size": DATABASE_POOL_MAX_SIZE,
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
# Throttles (accounts/throttles.py): token buckets in the database, "N/second|minute|hour|day".
# A failed login costs a token of its account (or, from a browser that has logged in to that
# account before, of that browser) and of the client address; a success costs nothing.
LOGIN_ATTEMPTS_PER_ACCOUNT = env.str("LOGIN_ATTEMPTS_PER_ACCOUNT", default="10/hour")
LOGIN_ATTEMPTS_PER_DEVICE = env.str("LOGIN_ATTEMPTS_PER_DEVICE", default="10/hour")
LOGIN_ATTEMPTS_PER_ADDRESS = env.str("LOGIN_ATTEMPTS_PER_ADDRESS", default="100/hour")
SIGNUPS_PER_ADDRESS = env.str("SIGNUPS_PER_ADDRESS", default="10/hour")
SIGNUPS_PER_EMAIL = env.str("SIGNUPS_PER_EMAIL", default="3/hour")
PASSWORD_RESETS_PER_ADDRESS = env.str("PASSWORD_RESETS_PER_ADDRESS", default="10/hour")
PASSWORD_RESETS_PER_EMAIL = env.str("PASSWORD_RESETS_PER_EMAIL", default="3/hour")
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# --- Cache ------------------------------------------------------------------------------------
# Maraum keeps nothing in Django's cache (throttles are in the database); Django's default.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

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
# REDIS_MAX_CONNECTIONS: the pool of the layer and of chat.fanout's own client.
from maraum.channel_layers import REDIS_MAX_CONNECTIONS, redis_layer  # noqa: E402, F401

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {"default": redis_layer(REDIS_URL)}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# How long a request waits to tell open chat pages of a change (chat/signals.py), in seconds.
CHANNEL_LAYER_SEND_TIMEOUT = env.float("CHANNEL_LAYER_SEND_TIMEOUT", default=1.0)

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
FORMAT_MODULE_PATH = ["maraum.formats"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Logging: never message content; our own loggers name ids and counts only ----------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s [%(process)d] %(name)s %(message)s"}
    },
    "filters": {
        "security_without_traceback": {"()": "lib.log_filters.SecurityWithoutTraceback"},
        "no_content_at_debug": {"()": "lib.log_filters.NoContentAtDebug"},
        "no_reset_token": {"()": "lib.log_filters.NoResetToken"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["security_without_traceback", "no_content_at_debug", "no_reset_token"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# --- The model ------------------------------------------------------------------------------
# Without ANTHROPIC_API_KEY the app runs the offline partner (chat/providers/).
ANTHROPIC_API_KEY = env.str("ANTHROPIC_API_KEY", default="")
ANTHROPIC_BASE_URL = env.str("ANTHROPIC_BASE_URL", default="") or None
CHARACTER_MODEL = env.str("CHARACTER_MODEL", default="claude-sonnet-4-6")
HELPER_MODEL = env.str("HELPER_MODEL", default="claude-haiku-4-5")
CHARACTER_MAX_TOKENS = env.int("CHARACTER_MAX_TOKENS", default=400)
HELPER_MAX_TOKENS = env.int("HELPER_MAX_TOKENS", default=600)
REPORT_MAX_TOKENS = env.int("REPORT_MAX_TOKENS", default=2000)  # the scene report (a tool call)
GLOSS_MAX_TOKENS = env.int("GLOSS_MAX_TOKENS", default=1000)  # kept cards' meanings (a tool call)
MODEL_TIMEOUT = env.float("MODEL_TIMEOUT", default=60.0)  # whole reply, seconds
MODEL_FIRST_TOKEN_TIMEOUT = env.float("MODEL_FIRST_TOKEN_TIMEOUT", default=20.0)
MODEL_RETRY_ATTEMPTS = env.int("MODEL_RETRY_ATTEMPTS", default=3)  # tries before a first token
MODEL_RETRY_BASE_DELAY = env.float("MODEL_RETRY_BASE_DELAY", default=0.5)  # doubles each retry
OFFLINE_TOKEN_DELAY = env.float("OFFLINE_TOKEN_DELAY", default=0.04)  # seconds between words
# Background tasks (scene reports): django-tasks' database queue; `make run` starts a worker
# (`manage.py task_worker`), which picks up what a restart left queued.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# Seconds after which a report still being written is asked for again: longer than one task's
# longest run (three tries of MODEL_TIMEOUT and their backoff).
REPORT_STALE_AFTER = env.int("REPORT_STALE_AFTER", default=600)

# What every scene shares: prompts/character_rules.md, helper.md and levels/<LEVEL>.md, each
# overridable, e.g. PROMPT_HELPER_PATH=/etc/maraum/helper.md or PROMPT_LEVELS_A1_PATH=...
# (a scene's own character and script are the scenario's data, edited in the admin).
PROMPTS_DIR = BASE_DIR / "prompts"

# --- The chat -------------------------------------------------------------------------------
CHAT_MESSAGE_MAX_LENGTH = env.int("CHAT_MESSAGE_MAX_LENGTH", default=1000)
CHAT_MESSAGES_PER_LEARNER = env.str("CHAT_MESSAGES_PER_LEARNER", default="12/minute")
# Model calls (character, helper, retries) per learner and day, counted per email so that a
# deleted and re-created account starts with what was left. Shown when it runs low.
MODEL_CALLS_PER_DAY = env.int("MODEL_CALLS_PER_DAY", default=200)
DECK_KEEPS_PER_LEARNER = env.str("DECK_KEEPS_PER_LEARNER", default="300/hour")  # "Keep" clicks
CHAT_FRAME_INTERVAL = env.float("CHAT_FRAME_INTERVAL", default=0.05)  # ≤ 20 frames/s a reply
# ...stretched up to this while the event loop runs late (chat/replies.py: frame_interval)
CHAT_FRAME_INTERVAL_MAX = env.float("CHAT_FRAME_INTERVAL_MAX", default=0.2)
CHAT_SOCKETS_PER_SESSION = env.int("CHAT_SOCKETS_PER_SESSION", default=6)  # open tabs per chat
CHAT_SOCKETS_PER_LEARNER = env.int("CHAT_SOCKETS_PER_LEARNER", default=12)  # ...per learner
# Reply claims (chat/claims.py): renewed every REPLY_HEARTBEAT seconds while a reply streams; a
# claim not renewed for REPLY_STALE_AFTER seconds belongs to a process that died mid-reply.
REPLY_HEARTBEAT = env.float("REPLY_HEARTBEAT", default=2.0)
REPLY_STALE_AFTER = env.float("REPLY_STALE_AFTER", default=10.0)
# On SIGTERM, replies in flight get this many seconds to finish before the process stops.
SHUTDOWN_GRACE = env.float("SHUTDOWN_GRACE", default=25.0)
