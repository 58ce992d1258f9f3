"""delete_expired_sessions(), delete_old_logs(), reset_weekly_limits(): effects and log rows."""

from datetime import timedelta

import pytest

from accounts.models import Profile, User
from accounts.rls import acting_as_staff
from eventlog.models import Log
from scenarios.models import Session
from tests.conftest import add_message, complete, run_sql, staff_get, start_session


def _call(function: str):
    with acting_as_staff():
        [(result,)] = run_sql(f"SELECT {function}()")
        return result


def _last_log(event_type: str) -> Log:
    with acting_as_staff():
        return Log.objects.filter(event_type=event_type).latest("created_at")


def _age_session(session, days: float):
    with acting_as_staff():
        run_sql(
            "UPDATE sessions SET last_activity_at = now() - make_interval(secs => %s)"
            " WHERE id = %s",
            [days * 86400, session.pk],
        )


def test_expired_sessions_go_fresh_and_completed_ones_stay(alice, bob, marketplace):
    carol = User.objects.create_user("carol@example.com", "x-password-123")
    expired = start_session(alice, marketplace)
    add_message(expired, "scenario", "main")
    add_message(expired, "user", "main")
    fresh = start_session(bob, marketplace)
    _age_session(fresh, 6.9)
    done = start_session(carol, marketplace)
    _age_session(done, 30)
    done = complete(done)
    _age_session(expired, 7.1)

    assert _call("delete_expired_sessions") == 1
    with acting_as_staff():
        assert set(Session.objects.values_list("pk", flat=True)) == {fresh.pk, done.pk}
        assert not run_sql("SELECT 1 FROM messages WHERE session_id = %s", [expired.pk])
    log = _last_log("session_expiration_cleanup")
    assert log.level == "info"
    assert log.metadata["deleted_sessions"] == 1 and log.metadata["deleted_messages"] == 2
    assert {"cutoff", "oldest_last_activity", "newest_last_activity", "job_id"} <= set(log.metadata)
    # Nothing left to do: a second run deletes nothing.
    assert _call("delete_expired_sessions") == 0


def test_logs_older_than_30_days_go(alice):
    with acting_as_staff():
        for days in (31, 29):
            run_sql(
                "INSERT INTO logs (level, event_type, created_at)"
                " VALUES ('info', 'user_logout', now() - make_interval(days => %s))",
                [days],
            )
    assert _call("delete_old_logs") == 1
    with acting_as_staff():
        assert list(
            Log.objects.filter(event_type="user_logout").values_list("level", flat=True)
        ) == ["info"]
    assert _last_log("cleanup_job_executed").metadata["deleted_logs"] == 1


def _set_week(user, count: int, weeks_ago: int):
    with acting_as_staff():
        run_sql(
            "UPDATE profiles SET current_week_completion_count = %s,"
            " week_reset_date = next_week_start(now()) - make_interval(weeks => %s) WHERE id = %s",
            [count, weeks_ago, user.pk],
        )


def test_weekly_reset_moves_ended_weeks_to_next_monday_once(alice, bob):
    _set_week(alice, 3, weeks_ago=1)  # the week ended last Monday
    _set_week(bob, 2, weeks_ago=0)  # still this week
    assert _call("reset_weekly_limits") == 1
    alice_profile, bob_profile = staff_get(Profile, pk=alice.pk), staff_get(Profile, pk=bob.pk)
    assert alice_profile.current_week_completion_count == 0
    assert alice_profile.week_reset_date == bob_profile.week_reset_date
    assert bob_profile.current_week_completion_count == 2
    before = [
        (p.pk, p.current_week_completion_count, p.week_reset_date, p.updated_at)
        for p in _profiles()
    ]
    assert _call("reset_weekly_limits") == 0
    assert before == [
        (p.pk, p.current_week_completion_count, p.week_reset_date, p.updated_at)
        for p in _profiles()
    ]
    log = _last_log("weekly_limit_reset")
    assert log.metadata["profiles_reset"] == 0 and "next_reset" in log.metadata


def _profiles():
    with acting_as_staff():
        return list(Profile.objects.order_by("pk"))


def test_weekly_reset_recovers_from_missed_weeks(alice, marketplace):
    complete(start_session(alice, marketplace))  # one completion this week
    _set_week(alice, 3, weeks_ago=5)  # five Mondays missed
    assert _call("reset_weekly_limits") == 1
    profile = staff_get(Profile, pk=alice.pk)
    assert profile.current_week_completion_count == 1  # what this week already holds
    assert profile.week_reset_date - profile.updated_at <= timedelta(days=7)
    assert profile.week_reset_date.weekday() == 0


@pytest.mark.parametrize(
    ("function", "table"),
    [
        ("delete_expired_sessions", "sessions"),
        ("delete_old_logs", "logs"),
        ("reset_weekly_limits", "profiles"),
    ],
)
def test_a_failing_maintenance_function_logs_an_error_row(alice, marketplace, function, table):
    # Something for each function to do...
    _age_session(start_session(alice, marketplace), 8)
    _set_week(alice, 1, weeks_ago=1)
    with acting_as_staff():
        run_sql(
            "INSERT INTO logs (level, event_type, created_at)"
            " VALUES ('info', 'user_logout', now() - interval '40 days')"
        )
    # ...and a table that refuses it, for the rest of this rolled-back test transaction.
    run_sql(
        "CREATE FUNCTION refuse_for_test() RETURNS trigger LANGUAGE plpgsql"
        " AS $$ BEGIN RAISE EXCEPTION 'refused by test'; END $$"
    )
    run_sql(
        f"CREATE TRIGGER refuse BEFORE UPDATE OR DELETE ON {table}"
        " FOR EACH ROW EXECUTE FUNCTION refuse_for_test()"
    )

    assert _call(function) is None
    error = _last_log("database_error")
    assert error.level == "error"
    assert error.metadata["function"] == function
    assert "refused by test" in error.metadata["error"]
