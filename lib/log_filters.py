"""Filters for the log's handlers (settings.LOGGING)."""

import logging


class SecurityWithoutTraceback(logging.Filter):
    """Django's security refusals (too many form fields, a disallowed host, ...) in one line
    each: a request anyone can send wrote two whole tracebacks to the log, which said no more
    than the line (found by the attacker's replay)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("django.security.") and record.exc_info:
            record.exc_info, record.exc_text = None, None
        return True
