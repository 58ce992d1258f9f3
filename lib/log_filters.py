"""Filters for the log's handlers (settings.LOGGING)."""

import logging
import re


class SecurityWithoutTraceback(logging.Filter):
    """Django's security refusals (too many form fields, a disallowed host, a permission
    denied, ...) in one line each, as warnings: a request anyone can send wrote two whole
    tracebacks to the log, which said no more than the line, as an ERROR, which is for our
    faults (both found by the attacker's replays). Each is refused with a 400 or 403; Django
    logs other 4xx as warnings too."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("django.security.") or _permission_denied(record):
            record.exc_info, record.exc_text = None, None
            if record.levelno > logging.WARNING:
                record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def _permission_denied(record: logging.LogRecord) -> bool:
    """Django's "Forbidden (Permission denied)": a staff member's request for what staff may
    not do wrote a 60-line traceback each (the attacker's recheck)."""
    from django.core.exceptions import PermissionDenied

    error = record.exc_info[1] if record.exc_info else None
    return record.name == "django.request" and isinstance(error, PermissionDenied)


# Loggers whose debug records carry what they send or receive: the SDK logs a whole model
# request (the prompt, the role-play, the learner's line), the HTTP clients what they
# exchange. (Django's statements with their parameters stay out: Django's own logging config
# keeps its "django" logger at INFO whatever the root's level.)
CONTENT_AT_DEBUG = ("anthropic", "httpx", "httpx2", "httpcore", "httpcore2", "aiohttp")


class NoContentAtDebug(logging.Filter):
    """Message content never goes into the log, whatever LOG_LEVEL (or ANTHROPIC_LOG) says:
    at DEBUG the SDK logged every model request whole (the attacker's replay)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.INFO:
            return True
        return not any(
            record.name == name or record.name.startswith(name + ".") for name in CONTENT_AT_DEBUG
        )


# A password-reset link's token sets a new password for up to PASSWORD_RESET_TIMEOUT: no log
# writes it down (Daphne's access log did, and Django's "Not Found" of a link with a full stop
# glued on: the attacker's replays). Found anywhere in a line, in any case, ended by a slash,
# a query or the line's end; not Django's next page, "set-password". And anything shaped as
# one (Django's: a timestamp in base 36, a dash, 32 hex digits), wherever a mangled link put
# it ("/passwort-reset/…", a soft hyphen: the recheck).
RESET_TOKEN = re.compile(
    r"(password-reset/+[^/?#\s]+/+)(?!set-password(?:[/?#\s]|$))[^/?#\s]+", re.IGNORECASE
)
TOKEN_SHAPED = re.compile(r"(?<![0-9A-Za-z])[0-9a-z]{1,13}-[0-9a-f]{32}(?![0-9A-Za-z])")


def without_reset_token(text: str) -> str:
    return TOKEN_SHAPED.sub("[token]", RESET_TOKEN.sub(r"\1[token]", text))


class NoResetToken(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        said = record.getMessage()
        hidden = without_reset_token(said)
        if hidden != said:
            record.msg, record.args = hidden, None
        return True
