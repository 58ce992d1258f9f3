"""Django's PostgreSQL backend, whose connection pool checks a connection without a round trip
and hands out the one used last.

Django's pool (with CONN_HEALTH_CHECKS) checks every connection it hands out with psycopg's
check, an empty query: two more round trips a chat turn, and about a tenth of a loaded
server's CPU (bench/chat_latency.py, 200 chats: 81 against 89-92 µs a streamed token).
PostgreSQL writes to an idle connection only to end it (a restart, pg_terminate_backend, an
idle timeout), so a connection with anything to read is going or gone; one without is sound
as far as a round trip could tell, short of a server that vanished without a word.
"""

import select

import psycopg
from django.db.backends.base.base import NO_DB_ALIAS
from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool
from psycopg_pool.base import AttemptWithBackoff


def check_without_round_trip(connection: psycopg.Connection) -> None:
    """The pool's check: raises (and closes the connection, which the pool then replaces) if
    it is closed, not idle, or the server has written to it since it went back to the pool."""
    if (
        connection.closed
        or connection.info.transaction_status != TransactionStatus.IDLE
        or _readable(connection.fileno())
    ):
        connection.close()
        raise psycopg.OperationalError("the pooled connection was closed by the server")


def _readable(fd: int) -> bool:
    if hasattr(select, "poll"):  # select() cannot watch a descriptor above 1023
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([fd], [], [], 0)[0])


class CappedBackoff(AttemptWithBackoff):
    """psycopg_pool tries a lost connection again after 1, 2, 4, 8, 16, 32 … s: after a 40 s
    outage, the next try came 20 s after the database was back, and every request meanwhile
    waited out the pool's timeout and failed (the attacker's recheck). At most MOST_DELAY
    between tries."""

    MOST_DELAY = 2.0

    def update_delay(self, now: float) -> None:
        super().update_delay(now)
        self.delay = min(self.delay, self.MOST_DELAY)


class LastUsedFirstPool(ConnectionPool):
    """psycopg's pool hands out the connection idle longest, so at one chat each turn ran on a
    backend gone cold (its caches, its process) while warm ones waited: the turn's work before
    the model call took 7.4 ms against 6.0 handing out the last used (bench/chat_latency.py,
    1 chat, four runs each, interleaved). The pool still closes the one idle longest when it
    shrinks. `_get_ready_connection` and `_add_connection` are psycopg_pool's own (pinned in
    requirements.txt)."""

    def _get_ready_connection(self, timeout):
        if self._pool:
            self._pool.rotate(1)  # the last returned is first
        return super()._get_ready_connection(timeout)

    def _add_connection(self, attempt, growing: bool = False) -> None:
        attempt = attempt or CappedBackoff(timeout=self.reconnect_timeout)
        return super()._add_connection(attempt, growing)

    def check(self) -> None:
        """psycopg's check puts the idle connections back in the reverse order: reversed
        first, they keep theirs (the attacker's replay, reading the code)."""
        with self._lock:
            self._pool.reverse()
        super().check()


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self):
        options = self.settings_dict["OPTIONS"].get("pool")
        if self.alias == NO_DB_ALIAS or not options or self.alias in self._connection_pools:
            return super().pool

        def check(connection: psycopg.Connection) -> None:
            try:
                check_without_round_trip(connection)
            except psycopg.OperationalError:
                # The others went with it, most likely (a restart): replaced all at once. The
                # pool would find them one at a time, waiting 1, 2, 4 s between, and a request
                # after a restart timed out while 20 dead connections were tried in turn.
                pool.check()
                raise

        pool = LastUsedFirstPool(
            kwargs={**self.get_connection_params(), "autocommit": True},  # as Django's
            open=False,
            configure=self._configure_connection,
            check=check if self.settings_dict["CONN_HEALTH_CHECKS"] else None,
            **({} if options is True else options),
        )
        self._connection_pools.setdefault(self.alias, pool)
        return self._connection_pools[self.alias]
