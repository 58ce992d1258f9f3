"""The server's connection pool (lib/postgresql_backend): a connection is checked before it is
handed out, without a round trip, and one the server has ended is replaced, not handed out."""

import contextlib

import psycopg
import pytest
from django.db import connection

from lib.postgresql_backend.base import DatabaseWrapper

pytestmark = pytest.mark.django_db


@pytest.fixture
def pool():
    yield from _pool(min_size=1, max_size=2)


def _pool(**options):
    settings = {**connection.settings_dict, "CONN_MAX_AGE": 0}
    settings["OPTIONS"] = {**settings["OPTIONS"], "pool": options}
    wrapper = DatabaseWrapper(settings, alias="pool-check-test")
    wrapper.pool.open(wait=True)
    yield wrapper.pool
    wrapper.close_pool()


def _end_backends(pids) -> None:
    with psycopg.connect(**{**connection.get_connection_params(), "autocommit": True}) as other:
        # Waits (up to 5 s) until each backend has gone: a restart or an idle timeout does this.
        for pid in pids:
            other.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])


def test_a_sound_connection_is_handed_out_again_without_a_round_trip(pool, monkeypatch):
    with pool.connection() as pooled:
        first = pooled.info.backend_pid
    sent = []
    monkeypatch.setattr(psycopg.Connection, "execute", lambda *a, **k: sent.append(a))
    with pool.connection() as pooled:
        assert pooled.info.backend_pid == first
    assert sent == []  # psycopg's own check sent an empty query each time


def test_a_connection_the_server_ended_is_replaced_not_handed_out(pool):
    with pool.connection() as pooled:
        ended = pooled.info.backend_pid
    _end_backends([ended])
    with pool.connection() as pooled:
        assert pooled.execute("SELECT 1").fetchone() == (1,)
        assert pooled.info.backend_pid != ended


def test_after_a_restart_one_hand_out_replaces_every_dead_connection():
    """The pool tried its dead connections one at a time, waiting 1, 2, 4 s between: after a
    restart, a request timed out while the pool's 20 dead connections were tried in turn."""
    for pool in _pool(min_size=6, max_size=6, timeout=5):
        with contextlib.ExitStack() as held:  # all six out at once: six backends
            pids = [held.enter_context(pool.connection()).info.backend_pid for _ in range(6)]
        _end_backends(pids)
        with pool.connection() as pooled:  # 1 + 2 + 4 s of tries would pass the 5 s timeout
            assert pooled.execute("SELECT 1").fetchone() == (1,)
        assert pool.get_stats()["connections_lost"] == 6


def test_the_connection_used_last_is_handed_out_first():
    """psycopg's pool handed out the one idle longest: at one chat, every turn ran on a cold
    backend while the warm one waited (about 1.4 ms more before the model call)."""
    for pool in _pool(min_size=3, max_size=3):
        with contextlib.ExitStack() as held:
            pids = [held.enter_context(pool.connection()).info.backend_pid for _ in range(3)]
        # the stack gives them back last taken first: pids[0] went back last
        for _ in range(3):
            with pool.connection() as pooled:
                assert pooled.info.backend_pid == pids[0]


def test_the_order_holds_after_every_connection_is_checked():
    """psycopg's `check()`, which ours calls after finding a connection the server ended, put
    the idle connections back in the reverse order: the one idle longest came out first."""
    for pool in _pool(min_size=3, max_size=3):
        with contextlib.ExitStack() as held:
            pids = [held.enter_context(pool.connection()).info.backend_pid for _ in range(3)]
        pool.check()
        with pool.connection() as pooled:
            assert pooled.info.backend_pid == pids[0]  # the last given back


def test_a_lost_connection_is_tried_again_every_two_seconds_at_most(pool, monkeypatch):
    """psycopg_pool tried again after 1, 2, 4, 8, 16, 32 … s: after a 40 s outage the next
    try came 20 s after the database was back, and requests failed meanwhile (the attacker's
    recheck)."""

    def connect(*args, **kwargs):
        raise psycopg.OperationalError("the database is away")

    scheduled = []  # (the task that tries again, after how long)
    monkeypatch.setattr(pool, "_connect", connect)
    monkeypatch.setattr(pool, "schedule_task", lambda task, delay: scheduled.append((task, delay)))
    pool._add_connection(None)
    for _ in range(7):  # each try fails, and schedules the next
        pool._add_connection(scheduled[-1][0].attempt)
    delays = [delay for _, delay in scheduled]
    assert len(delays) == 8 and all(0 < delay <= 2.0 for delay in delays), delays
