"""Filters for the log's handlers (settings.LOGGING)."""

import logging


class SecurityWithoutTraceback(logging.Filter):
    """Django's security refusals (too many form fields, a disallowed host, ...) in one line
    each, as warnings: a request anyone can send wrote two whole tracebacks to the log, which
    said no more than the line, as an ERROR, which is for our faults (both found by the
    attacker's replays). Each is refused with a 400; Django logs other 4xx as warnings too."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("django.security."):
            record.exc_info, record.exc_text = None, None
            if record.levelno > logging.WARNING:
                record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True
