"""The sessions table: one active session, completion rules, profile counts, scenarios."""

import threading
from datetime import timedelta

import pytest
from django.db import DatabaseError, IntegrityError, transaction

from accounts.models import Profile
from lib.rls import acting_as_staff
from scenarios.models import Scenario, Session
from tests.conftest import (
    add_message,
    complete,
    raw_connection,
    run_sql,
    staff_get,
    start_session,
)


def test_a_second_active_session_is_refused(alice, marketplace, party):
    start_session(alice, marketplace)
    with pytest.raises(IntegrityError, match="idx_sessions_one_active_per_user"):
        start_session(alice, party)


def test_a_new_session_may_start_once_the_last_is_completed(alice, marketplace):
    complete(start_session(alice, marketplace))
    assert start_session(alice, marketplace).is_completed is False


def test_completion_stamps_completed_at_and_duration(alice, marketplace):
    session = start_session(alice, marketplace)
    with acting_as_staff():
        run_sql(
            "UPDATE sessions SET started_at = now() - interval '95 seconds' WHERE id = %s",
            [session.pk],
        )
    done = complete(session)
    assert done.completed_at is not None
    assert done.duration_seconds == 95


def test_completed_needs_completed_at_and_the_reverse(alice, marketplace):
    session = start_session(alice, marketplace)
    with pytest.raises(DatabaseError, match="sessions_completed_has_timestamp"), acting_as_staff():
        run_sql("UPDATE sessions SET completed_at = started_at WHERE id = %s", [session.pk])


def test_completed_at_before_started_at_is_refused(alice, marketplace):
    session = start_session(alice, marketplace)
    with pytest.raises(DatabaseError, match="sessions_completed_after_started"), acting_as_staff():
        run_sql(
            "UPDATE sessions SET is_completed = true, completed_at = started_at - interval '1 hour'"
            " WHERE id = %s",
            [session.pk],
        )


@pytest.mark.parametrize(
    ("column", "constraint"),
    [
        ("message_count_main", "sessions_message_counts_non_negative"),
        ("message_count_helper", "sessions_message_counts_non_negative"),
        ("duration_seconds", "sessions_duration_non_negative"),
    ],
)
def test_negative_counts_and_durations_are_refused(alice, marketplace, column, constraint):
    session = start_session(alice, marketplace)
    with pytest.raises(DatabaseError, match=constraint), acting_as_staff():
        run_sql(f"UPDATE sessions SET {column} = -1 WHERE id = %s", [session.pk])


def test_a_completed_session_cannot_be_reopened(alice, marketplace):
    session = complete(start_session(alice, marketplace))
    with pytest.raises(DatabaseError, match="cannot be reopened"), acting_as_staff():
        Session.objects.filter(pk=session.pk).update(is_completed=False, completed_at=None)


def test_completion_counts_once_on_the_profile(alice, marketplace):
    session = complete(start_session(alice, marketplace))
    with acting_as_staff():
        # Touching a completed session again does not count it again.
        Session.objects.filter(pk=session.pk).update(is_completed=True)
    profile = staff_get(Profile, pk=alice.pk)
    assert (profile.completed_scenario_count, profile.current_week_completion_count) == (1, 1)


def test_completion_after_a_missed_weekly_reset_starts_a_new_week(alice, marketplace):
    with acting_as_staff():
        Profile.objects.filter(pk=alice.pk).update(
            current_week_completion_count=3,
            week_reset_date=staff_get(Profile, pk=alice.pk).week_reset_date - timedelta(days=14),
        )
    complete(start_session(alice, marketplace))
    profile = staff_get(Profile, pk=alice.pk)
    assert profile.current_week_completion_count == 1
    assert profile.week_reset_date > profile.updated_at


def test_deleting_a_completed_session_gives_the_count_back(alice, marketplace):
    session = complete(start_session(alice, marketplace))
    with acting_as_staff():
        Session.objects.filter(pk=session.pk).delete()
    profile = staff_get(Profile, pk=alice.pk)
    assert (profile.completed_scenario_count, profile.current_week_completion_count) == (0, 0)


@pytest.mark.parametrize("table", ["profiles", "sessions", "scenarios"])
def test_updated_at_is_set_by_the_database(alice, marketplace, table):
    row = {
        "profiles": alice.pk,
        "sessions": start_session(alice, marketplace).pk,
        "scenarios": marketplace.pk,
    }[table]
    with acting_as_staff():
        [(updated, now)] = run_sql(
            f"UPDATE {table} SET updated_at = '2000-01-01' WHERE id = %s"
            " RETURNING updated_at, now()",
            [row],
        )
    assert updated == now


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_concurrent_completions_count_once(alice, marketplace):
    session = start_session(alice, marketplace)
    first, second = raw_connection(), raw_connection()
    with first as one, second as two:
        for conn in (one, two):
            conn.execute("SET ROLE maraum_staff")
        one.execute("UPDATE sessions SET is_completed = true WHERE id = %s", [session.pk])
        two_pid = two.info.backend_pid
        errors: list[BaseException] = []

        def complete_again():
            try:
                two.execute("UPDATE sessions SET is_completed = true WHERE id = %s", [session.pk])
                two.commit()
            except BaseException as exc:  # surfaced in the main thread below
                errors.append(exc)

        racer = threading.Thread(target=complete_again)
        racer.start()
        # Await the event itself: the second update blocked on the first one's row lock.
        while not one.execute("SELECT pg_blocking_pids(%s) <> '{}'", [two_pid]).fetchone()[0]:
            pass
        one.commit()
        racer.join(timeout=10)
        assert not racer.is_alive() and not errors
    profile = staff_get(Profile, pk=alice.pk)
    assert (profile.completed_scenario_count, profile.current_week_completion_count) == (1, 1)


def test_messages_count_per_chat_and_move_activity(alice, marketplace):
    session = start_session(alice, marketplace)
    with acting_as_staff():
        run_sql(
            "UPDATE sessions SET last_activity_at = now() - interval '1 day' WHERE id = %s",
            [session.pk],
        )
    add_message(session, "scenario", "main")
    add_message(session, "user", "main")
    add_message(session, "helper", "helper")
    [(main, helper, fresh)] = _session_row(session)
    assert (main, helper, fresh) == (2, 1, True)


def _session_row(session):
    with acting_as_staff():
        return run_sql(
            "SELECT message_count_main, message_count_helper,"
            " last_activity_at = (SELECT max(sent_at) FROM messages WHERE session_id = s.id)"
            " FROM sessions s WHERE id = %s",
            [session.pk],
        )


def test_deleting_a_scenario_with_sessions_is_restricted(alice, marketplace):
    start_session(alice, marketplace)
    with pytest.raises(IntegrityError, match="sessions_scenario_id_fkey"), transaction.atomic():
        Scenario.objects.filter(pk=marketplace.pk).delete()


@pytest.mark.parametrize(
    "title, emoji, constraint",
    [
        ("Marketplace", "🛍", "scenarios_title_unique"),  # the title of an existing one
        ("Zoo", "🦁🦁🦁🦁🦁", "scenarios_emoji_size_limit"),  # over 16 bytes
    ],
)
def test_scenario_constraints(marketplace, title, emoji, constraint):
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        Scenario.objects.create(
            code="other",
            title=title,
            emoji=emoji,
            initial_message_main="Hallo",
            initial_message_helper="Hi",
        )


def test_the_seeded_scenarios_come_first_and_eight_more_are_shipped(db):
    rows = list(Scenario.objects.values_list("code", "emoji", "sort_order", "is_active"))
    assert rows[:3] == [
        ("marketplace", "🛒", 10, True),
        ("party", "🎉", 20, True),
        ("kebab", "🥙", 30, True),
    ]
    assert len(rows) == 11 and all(active for *_, active in rows)
    # In tens, for staff to slot a scene in between (1, 2, 3, 40, …, 110: a newcomer's walk).
    assert [order for _, _, order, _ in rows] == list(range(10, 111, 10))
