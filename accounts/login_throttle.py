"""Failed-login throttling, per account and per client address, kept in Django's cache.

Each key counts failures in a fixed window that starts with its first failure; at the limit,
logging in is refused (even with the right password) until that window ends. The default
local-memory cache is per process: run several processes with a shared CACHE_URL (Redis).
"""

import hashlib
import time
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache


def _keys(email: str, client_address: str) -> list[str]:
    # Hashed: cache backends restrict key characters, and emails do not belong in Redis keys.
    account = hashlib.sha256(email.strip().casefold().encode()).hexdigest()
    address = hashlib.sha256(client_address.encode()).hexdigest()
    return [f"login-failures:account:{account}", f"login-failures:address:{address}"]


def locked_until(email: str, client_address: str) -> datetime | None:
    """When logging in is possible again, if this account or address is locked now."""
    until = None
    for key in _keys(email, client_address):
        count = cache.get(key, 0)
        if count >= settings.LOGIN_FAILURE_LIMIT:
            ends = cache.get(f"{key}:ends", time.time() + settings.LOGIN_FAILURE_WINDOW)
            until = max(until or 0, ends)
    return datetime.fromtimestamp(until, UTC) if until else None


def record_failure(email: str, client_address: str) -> None:
    window = settings.LOGIN_FAILURE_WINDOW
    for key in _keys(email, client_address):
        if cache.add(key, 0, window):  # the first failure opens the window
            cache.set(f"{key}:ends", time.time() + window, window)
        try:
            cache.incr(key)
        except ValueError:  # expired between add() and incr()
            cache.add(key, 1, window)


def clear_account(email: str) -> None:
    """A successful login forgives the account's failures (not the address's)."""
    account_key = _keys(email, "")[0]
    cache.delete_many([account_key, f"{account_key}:ends"])
