"""The profiles table: made by the database, counted by triggers, email kept in step."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import DatabaseError, IntegrityError, transaction

from accounts.models import Profile, User
from lib.rls import acting_as_staff
from tests.conftest import add_message, run_sql, staff_get, start_session


def test_profile_is_created_with_the_user_and_resets_next_monday(alice):
    profile = staff_get(Profile, pk=alice.pk)
    assert profile.email == "alice@example.com"
    assert (profile.completed_scenario_count, profile.current_week_completion_count) == (0, 0)
    reset = profile.week_reset_date.astimezone(UTC)
    assert reset.weekday() == 0 and (reset.hour, reset.minute, reset.second) == (0, 0, 0)
    assert timedelta(0) < reset - datetime.now(UTC) <= timedelta(days=7)


@pytest.mark.parametrize(
    ("moment", "monday"),
    [
        ("2026-11-21 10:00+00", "2026-11-23 00:00+00"),  # Saturday
        ("2026-11-23 00:00+00", "2026-11-30 00:00+00"),  # Monday 00:00 itself: next week
        ("2026-11-22 23:30-05", "2026-11-30 00:00+00"),  # Sunday in New York is Monday in UTC
    ],
)
def test_next_week_start_is_the_following_monday_utc(db, moment, monday):
    [(result,)] = run_sql(
        "SELECT next_week_start(%s::timestamptz) = %s::timestamptz", [moment, monday]
    )
    assert result


def test_a_user_without_email_gets_no_profile(db):
    with pytest.raises(IntegrityError, match="Email cannot be empty"), transaction.atomic():
        User.objects.create(email="   ")


def test_emails_are_unique_whatever_their_case(alice):
    with pytest.raises(IntegrityError, match="email"), transaction.atomic():
        User.objects.create_user("ALICE@example.com", "x-password-123")


def test_login_lookup_ignores_case(alice):
    assert User.objects.get_by_natural_key("Alice@Example.COM") == alice


def test_profile_email_follows_the_account(alice):
    alice.email = "alice.new@example.com"
    alice.save()
    assert staff_get(Profile, pk=alice.pk).email == "alice.new@example.com"


def test_negative_counts_are_refused(alice):
    with pytest.raises(DatabaseError, match="profiles_counts_non_negative"), acting_as_staff():
        run_sql("UPDATE profiles SET current_week_completion_count = -1 WHERE id = %s", [alice.pk])


def test_deleting_the_account_removes_profile_sessions_and_messages(alice, bob, marketplace):
    session = start_session(alice, marketplace)
    add_message(session, "scenario", "main")
    add_message(session, "user", "helper")
    kept = start_session(bob, marketplace)
    add_message(kept, "user", "main")

    alice.delete()

    with acting_as_staff():
        counts = run_sql(
            "SELECT (SELECT count(*) FROM profiles WHERE id = %(a)s),"
            " (SELECT count(*) FROM sessions WHERE user_id = %(a)s),"
            " (SELECT count(*) FROM messages WHERE user_id = %(a)s),"
            " (SELECT count(*) FROM messages WHERE user_id = %(b)s)",
            {"a": alice.pk, "b": bob.pk},
        )
    assert counts == [(0, 0, 0, 1)]
