"""Row-level security: a learner reaches only their own rows; nobody set means no rows."""

import pytest
from django.db import DatabaseError, connection, transaction

from accounts.models import Profile
from chat import claims
from chat.models import Message, ReachedGoal
from eventlog.models import Log
from lib.rls import acting_as_learner, acting_as_staff
from lib.setup_checks import learner_tables
from scenarios.models import Scenario, Session
from tests.conftest import add_message, complete, login_role_is_privileged, run_sql, start_session

LEARNER_TABLES = ["profiles", "sessions", "messages", "reply_claims", "reached_goals", "logs"]
READABLE_BY_LEARNERS = ["profiles", "sessions", "messages", "reply_claims", "reached_goals"]


@pytest.fixture
def two_learners_with_data(alice, bob, marketplace):
    for user in (alice, bob):
        session = start_session(user, marketplace)
        add_message(session, "scenario", "main")
        add_message(session, "user", "helper")
        said = add_message(session, "user", "main", "Ein Kilo Tomaten, bitte.")
        with acting_as_learner(user.pk):
            assert claims.claim(session.pk, "main")
            ReachedGoal.objects.create(
                session=session, goal=marketplace.goals.first(), message=said
            )
        run_sql("SELECT write_log('info', 'session_created', %s, %s, '{}')", [user.pk, session.pk])
    return alice, bob


def _owner_column(table: str) -> str:
    return "id" if table == "profiles" else "user_id"


def _visible_counts(tables=READABLE_BY_LEARNERS):
    return {
        table: run_sql(f"SELECT count(*), count(DISTINCT {_owner_column(table)}) FROM {table}")[0]
        for table in tables
    }


def test_rls_is_enabled_and_forced_on_every_learner_table(db):
    """Each table with a foreign key to `profiles`, as check_setup finds them: it knew five."""
    owned = [*LEARNER_TABLES, "deck_cards", "deck_removed_cards", "scene_reports"]
    assert learner_tables() == {name: (True, True) for name in owned}


def test_a_table_keyed_to_a_learner_table_only_is_a_learner_table(db):
    """A table whose rows hang off a session, with no key to `profiles` of its own, was not
    found, and its missing row-level security not reported (the last note's left item)."""
    run_sql(
        "CREATE TABLE session_notes (id int PRIMARY KEY, session_id uuid REFERENCES sessions(id));"
        "CREATE TABLE session_note_marks (note_id int REFERENCES session_notes(id))"
    )
    found = learner_tables()
    assert found["session_notes"] == (False, False)
    assert found["session_note_marks"] == (False, False)
    assert "scenarios" not in found  # what learner tables refer to is not theirs


def test_a_learner_sees_only_their_own_rows(two_learners_with_data):
    alice, _ = two_learners_with_data
    with acting_as_learner(alice.pk):
        counts = _visible_counts()
        assert counts == {
            "profiles": (1, 1),
            "sessions": (1, 1),
            "messages": (3, 1),
            "reply_claims": (1, 1),
            "reached_goals": (1, 1),
        }
        assert {p.pk for p in Profile.objects.all()} == {alice.pk}


def test_learners_read_no_logs_at_all(two_learners_with_data):
    alice, _ = two_learners_with_data
    with pytest.raises(DatabaseError, match="permission denied"), acting_as_learner(alice.pk):
        run_sql("SELECT count(*) FROM logs")


def test_no_learner_set_means_no_learner_rows(two_learners_with_data):
    with acting_as_learner(None):
        assert _visible_counts() == {table: (0, 0) for table in READABLE_BY_LEARNERS}
        assert Scenario.objects.count() == 11  # scenarios are readable by anyone


def test_the_login_role_itself_sees_no_learner_rows(two_learners_with_data):
    if login_role_is_privileged():
        pytest.skip("DATABASE_URL logs in as a superuser/BYPASSRLS role, which RLS cannot bind")
    assert _visible_counts(LEARNER_TABLES) == {table: (0, 0) for table in LEARNER_TABLES}


def test_staff_see_every_learners_rows(two_learners_with_data):
    with acting_as_staff():
        assert _visible_counts(LEARNER_TABLES) == {
            "profiles": (2, 2),
            "sessions": (2, 2),
            "messages": (6, 2),
            "reply_claims": (2, 2),
            "reached_goals": (2, 2),
            "logs": (2, 2),
        }


def test_a_learner_cannot_start_a_session_for_someone_else(alice, bob, marketplace):
    with pytest.raises(DatabaseError, match="row-level security"), acting_as_learner(alice.pk):
        Session.objects.create(user_id=bob.pk, scenario=marketplace)


def test_a_learner_cannot_write_into_someone_elses_session(two_learners_with_data):
    alice, bob = two_learners_with_data
    with acting_as_staff():
        bobs_session = Session.objects.get(user_id=bob.pk)
    with pytest.raises(DatabaseError, match="row-level security"), acting_as_learner(alice.pk):
        Message.objects.create(session=bobs_session, role="user", chat_type="main", content="x")


def test_a_learner_cannot_mark_goals_in_someone_elses_session(two_learners_with_data):
    alice, bob = two_learners_with_data
    with acting_as_staff():
        bobs = Session.objects.get(user_id=bob.pk)
        bobs_message = Message.objects.filter(session=bobs, role="user", chat_type="main").get()
        goal = bobs.scenario.goals.last()
    with pytest.raises(DatabaseError, match="row-level security"), acting_as_learner(alice.pk):
        ReachedGoal.objects.create(session=bobs, goal=goal, message=bobs_message)


def test_a_goal_is_reached_only_by_a_learner_message_of_its_own_scene(alice, party):
    session = start_session(alice, party)
    reply = add_message(session, "scenario", "main", "Hallo!")
    said = add_message(session, "user", "main", "Hallo!")
    marketplace_goal = Scenario.objects.get(code="marketplace").goals.first()
    for goal, message in ((party.goals.first(), reply), (marketplace_goal, said)):
        with (
            pytest.raises(DatabaseError, match="its own session and scenario"),
            acting_as_learner(alice.pk),
        ):
            ReachedGoal.objects.create(session=session, goal=goal, message=message)


def test_a_learner_cannot_change_or_abandon_someone_elses_session(two_learners_with_data):
    alice, bob = two_learners_with_data
    with acting_as_learner(alice.pk):
        assert Session.objects.filter(user_id=bob.pk).update(last_activity_at=None) == 0
        assert run_sql("DELETE FROM sessions WHERE user_id = %s RETURNING id", [bob.pk]) == []
    with acting_as_staff():
        assert Session.objects.filter(user_id=bob.pk).count() == 1


def test_a_learner_can_abandon_their_active_session_but_not_their_history(alice, marketplace):
    done = complete(start_session(alice, marketplace))
    active = start_session(alice, marketplace)
    with acting_as_learner(alice.pk):
        deleted = run_sql("DELETE FROM sessions RETURNING id")
    assert deleted == [(active.pk,)]
    with acting_as_staff():
        assert Session.objects.filter(pk=done.pk).exists()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE profiles SET current_week_completion_count = 0",
        "UPDATE reached_goals SET reached_at = now()",
        "DELETE FROM reached_goals",
        "UPDATE scenario_goals SET text = 'Mine'",
        "DELETE FROM scenario_goals",
        "INSERT INTO logs (level, event_type) VALUES ('info', 'user_logout')",
        "UPDATE sessions SET message_count_main = 0",
        "UPDATE scenarios SET title = 'Mine'",
        "DELETE FROM scenarios",
    ],
)
def test_learners_cannot_write_what_is_not_theirs_to_write(alice, statement):
    with pytest.raises(DatabaseError, match="permission denied"), acting_as_learner(alice.pk):
        run_sql(statement)


def test_learners_log_through_write_log_only(alice):
    with acting_as_learner(alice.pk):
        run_sql("SELECT write_log('info', 'user_logout', %s, NULL, '{\"n\": 1}')", [alice.pk])
    with acting_as_staff():
        assert Log.objects.get().metadata == {"n": 1}


@pytest.mark.parametrize("about", ["bob", "bobs_session"])
def test_a_learner_cannot_forge_a_log_row_about_someone_else(alice, bob, marketplace, about):
    bobs_session = start_session(bob, marketplace)
    user_id, session_id = (bob.pk, None) if about == "bob" else (alice.pk, bobs_session.pk)
    with pytest.raises(DatabaseError, match="only about that learner"):
        with acting_as_learner(alice.pk):
            run_sql(
                "SELECT write_log('error', 'database_error', %s, %s, NULL)", [user_id, session_id]
            )


def test_nested_contexts_restore_the_outer_one(alice, bob):
    with acting_as_learner(alice.pk):
        with acting_as_learner(bob.pk):
            assert Profile.objects.get().pk == bob.pk
        assert Profile.objects.get().pk == alice.pk
    [(role, learner)] = run_sql("SELECT current_user, current_setting('maraum.learner_id', true)")
    assert role == connection.settings_dict["USER"] or login_role_is_privileged()
    assert not learner


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_learner_setting_ends_with_its_transaction(alice):
    with acting_as_learner(alice.pk):
        assert Profile.objects.count() == 1
    # Same connection, next transaction: nothing of alice's identity is left on it.
    with transaction.atomic():
        [(role, learner)] = run_sql(
            "SELECT current_setting('role'), current_setting('maraum.learner_id', true)"
        )
    assert role == "none" and not learner


def test_a_learner_cannot_claim_a_reply_in_another_learners_session(alice, bob, marketplace):
    session = start_session(bob, marketplace)
    with pytest.raises(DatabaseError, match="row-level security"), acting_as_learner(alice.pk):
        claims.claim(session.pk, "main")
