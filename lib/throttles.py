"""The one mechanism behind every throttle in Maraum: a token bucket per key, kept in PostgreSQL
(`take_tokens()`, accounts migration 0003; several at once, `take_all_tokens()`, 0005), so it is
shared by all processes and survives restarts. The rules live with what they throttle:
accounts/throttles.py (logging in, signing up, resetting a password) and chat/allowance.py
(messages, the daily model budget).

A bucket holds up to `capacity` tokens and refills `capacity` tokens per `per_seconds`,
continuously: nobody is ever locked out for long, and a burst is allowed. Keys are salted
hashes: no email or address is stored. Each call runs in the caller's transaction, so a request
that fails (and rolls back) costs nothing.
"""

import hashlib
import hmac
import re
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from lib.rls import acting_as_staff

_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    tokens_left: float
    retry_after: float  # seconds until allowed again (0 when allowed)
    first_refusal: bool = False  # the first refusal in a refill period: worth a log row

    @property
    def wait_label(self) -> str:
        """'40 seconds', '6 minutes', '2 hours': for telling a person when to try again."""
        seconds = max(1, round(self.retry_after))
        if seconds < 90:
            return f"{seconds} second{'s' if seconds != 1 else ''}"
        if seconds < 90 * 60:
            minutes = round(seconds / 60)
            return f"{minutes} minute{'s' if minutes != 1 else ''}"
        hours = round(seconds / 3600)
        return f"{hours} hour{'s' if hours != 1 else ''}"


@dataclass(frozen=True)
class Throttle:
    """A named rule, e.g. Throttle("login-account", "LOGIN_ATTEMPTS_PER_ACCOUNT")."""

    name: str
    setting: str  # the setting holding its rate, "N/second|minute|hour|day"

    @property
    def rate(self) -> tuple[float, float]:
        text = getattr(settings, self.setting)
        if isinstance(text, int):
            return float(text), float(_PERIODS["day"])
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(second|minute|hour|day)\s*", text)
        if not match:
            raise ValueError(f"{self.setting} must look like '10/hour'")
        return float(match[1]), float(_PERIODS[match[2]])

    def key(self, *parts) -> str:
        message = "|".join(str(part).strip().casefold() for part in parts).encode()
        digest = hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()
        return f"{self.name}:{digest[:40]}"

    def take(self, *parts, cost: float = 1.0) -> Verdict:
        capacity, per_seconds = self.rate
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT * FROM take_tokens(%s, %s, %s, %s)",
                [self.key(*parts), capacity, per_seconds, cost],
            )
            return Verdict(*cursor.fetchone())

    def give_back(self, *parts) -> None:
        """Return a token taken for an attempt that turned out not to count."""
        self.take(*parts, cost=-1.0)

    def tokens_left(self, *parts) -> float:
        """What is left, without taking anything."""
        return self.take(*parts, cost=0.0).tokens_left

    def fill(self, *parts) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT fill_bucket(%s)", [self.key(*parts)])


# Untouched for a day: every rate is per day at most, so they are full again, and a full
# bucket needs no row.
_IDLE_BUCKETS = "FROM throttle_buckets WHERE updated_at < now() - interval '1 day'"


def prune_idle_buckets() -> int:
    """Delete the idle buckets; how many. (The cleanup command calls this.)"""
    with acting_as_staff(), connection.cursor() as cursor:
        cursor.execute(f"DELETE {_IDLE_BUCKETS}")
        return cursor.rowcount


def count_idle_buckets() -> int:
    """How many `prune_idle_buckets()` would delete (cleanup --dry-run)."""
    with acting_as_staff(), connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) {_IDLE_BUCKETS}")
        return cursor.fetchone()[0]


def take_all(throttles: list[tuple[Throttle, tuple]]) -> tuple[Verdict, Throttle | None]:
    """Take a token from each bucket, or from none: the first refusal gives back the rest
    (`take_all_tokens()`, one statement). Returns the verdict (when allowed, the last
    bucket's) and, when refused, the throttle that refused."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM take_all_tokens(%s, %s, %s)", buckets(throttles))
        refused_by, *verdict = cursor.fetchone()
    return Verdict(*verdict), throttles[refused_by - 1][0] if refused_by else None


def buckets(throttles: list[tuple[Throttle, tuple]]) -> list[list]:
    """`take_all_tokens()`'s arguments: the buckets' keys, capacities and refill periods."""
    keys, capacities, periods = [], [], []
    for throttle, parts in throttles:
        capacity, per_seconds = throttle.rate
        keys.append(throttle.key(*parts))
        capacities.append(capacity)
        periods.append(per_seconds)
    return [keys, capacities, periods]
