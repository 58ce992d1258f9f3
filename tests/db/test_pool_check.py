"""The server's connection pool (lib/postgresql_backend): a connection is checked before it is
handed out, without a round trip, and one the server has ended is replaced, not handed out."""

import psycopg
import pytest
from django.db import connection

from lib.postgresql_backend.base import DatabaseWrapper

pytestmark = pytest.mark.django_db


@pytest.fixture
def pool():
    settings = {**connection.settings_dict, "CONN_MAX_AGE": 0}
    settings["OPTIONS"] = {**settings["OPTIONS"], "pool": {"min_size": 1, "max_size": 2}}
    wrapper = DatabaseWrapper(settings, alias="pool-check-test")
    wrapper.pool.open(wait=True)
    yield wrapper.pool
    wrapper.close_pool()


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
    with psycopg.connect(**{**connection.get_connection_params(), "autocommit": True}) as other:
        # Waits (up to 5 s) until the backend has gone: a restart or an idle timeout does this.
        other.execute("SELECT pg_terminate_backend(%s, 5000)", [ended])
    with pool.connection() as pooled:
        assert pooled.execute("SELECT 1").fetchone() == (1,)
        assert pooled.info.backend_pid != ended
