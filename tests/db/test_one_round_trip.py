"""lib.rls.as_learner_in_one_round_trip: statements as the learner, in one transaction of their
own, and nothing of it left on the connection."""

import pytest
from django.db import DatabaseError, connection

from lib.rls import as_learner_in_one_round_trip
from tests.conftest import add_message, run_sql, start_session

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

SETTINGS = (
    "SELECT current_setting('role'), current_setting('maraum.learner_id', true),"
    " current_setting('synchronous_commit')"
)


def test_the_statements_run_as_the_learner_and_see_their_rows_only(alice, bob, marketplace):
    for learner in (alice, bob):
        add_message(start_session(learner, marketplace), "scenario", "main", f"für {learner.pk}")

    (settings,), contents = as_learner_in_one_round_trip(
        alice.pk, [(SETTINGS, []), ("SELECT content FROM messages", [])]
    )

    assert settings == ("maraum_learner", str(alice.pk), "on")  # commits wait for the flush
    assert contents == [(f"für {alice.pk}",)]


def test_nothing_of_it_stays_on_the_connection(alice):
    as_learner_in_one_round_trip(alice.pk, [("SELECT 1", [])])
    assert not connection.in_atomic_block
    assert connection.connection.info.transaction_status.name == "IDLE"
    ((role, learner, _),) = run_sql(SETTINGS)
    assert role == "none" and not learner


def test_the_statements_are_one_transaction(alice, marketplace):
    session = start_session(alice, marketplace)
    with pytest.raises(DatabaseError):
        as_learner_in_one_round_trip(
            alice.pk,
            [
                (
                    "INSERT INTO messages (session_id, role, chat_type, content)"
                    " VALUES (%s, 'scenario', 'main', 'kept?')",
                    [session.pk],
                ),
                ("SELECT 1 / 0", []),
            ],
        )
    [[count]] = as_learner_in_one_round_trip(
        alice.pk, [("SELECT count(*) FROM messages WHERE session_id = %s", [session.pk])]
    )
    assert count == (0,)
