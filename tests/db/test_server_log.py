"""Nothing a learner wrote reaches the PostgreSQL server's log, even when statements carrying it
fail: no failing statement, no parameters, no DETAIL (which quotes row values and, for a
deadlock, the statements involved)."""

import os
import time
import uuid

import pytest
from django.conf import settings
from django.db import DatabaseError

from chat.providers import ReplyDone
from chat.refusals import SessionGone, TurnRefused
from chat.turns import SCENE_OVER, SESSION_GONE, accept_turn, store_reply
from lib.embedded_db import PRIVATE_LOGGING
from lib.rls import acting_as_learner
from scenarios.models import Session
from tests.conftest import add_message, complete, failing_statements, run_sql, start_session

SERVER_LOG = settings.DATA_DIR / "postgres" / "log"


def test_the_server_logs_no_statements_parameters_or_details(db):
    settings_now = {name: run_sql(f"SHOW {name}")[0][0] for name in PRIVATE_LOGGING}
    if settings_now != PRIVATE_LOGGING:
        pytest.skip(f"an external server with its own log settings ({settings_now}): README")
    assert settings_now == PRIVATE_LOGGING


@pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")) or not SERVER_LOG.exists(),
    reason="only the embedded server's log is at hand (an external server's is the DBA's)",
)
def test_failing_learner_statements_leave_no_content_in_the_server_log(alice, marketplace):
    marker = f"Geheimnis-{uuid.uuid4().hex}"
    size = SERVER_LOG.stat().st_size
    session = complete(start_session(alice, marketplace))
    for content in (marker, marker * 400):  # refused by a trigger, then by a CHECK (8,000)
        with pytest.raises(DatabaseError):
            add_message(session, "user", "main", content)
    deadline = time.monotonic() + 10
    while SERVER_LOG.stat().st_size == size and time.monotonic() < deadline:
        time.sleep(0.05)  # the server writes its log on its own schedule
    logged = SERVER_LOG.read_bytes()[size:].decode(errors="replace")
    assert "ERROR" in logged  # the failures were logged...
    assert marker not in logged  # ...without what the learner wrote


@pytest.mark.parametrize("gone", ["completed", "deleted"])
def test_a_turn_into_a_closed_session_is_refused_without_a_failing_statement(
    alice, marketplace, gone
):
    """A server not set up as deploy/database-roles.sql says logs a failing statement's text:
    a role-play message to a scene that has just ended (or a session just deleted) must not
    be one."""
    session = start_session(alice, marketplace)
    if gone == "completed":
        complete(session)
    else:
        with acting_as_learner(alice.pk):
            Session.objects.filter(pk=session.pk).delete()
    with failing_statements() as failed, pytest.raises(TurnRefused) as refused:
        accept_turn(alice.pk, session, "main", "Mein Geheimnis", uuid.uuid4())
    assert str(refused.value) == (SCENE_OVER if gone == "completed" else SESSION_GONE)
    assert failed == []


def test_a_reply_to_a_deleted_session_is_dropped_without_a_failing_statement(alice, marketplace):
    session = start_session(alice, marketplace)
    with acting_as_learner(alice.pk):
        Session.objects.filter(pk=session.pk).delete()
    done = ReplyDone(ended=False, usage={}, attempts=1)
    with failing_statements() as failed, pytest.raises(SessionGone):
        store_reply(alice.pk, session.pk, "helper", "Die geheime Antwort", done, 0, 100)
    assert failed == []
