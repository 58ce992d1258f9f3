"""manage.py reset_weekly_limits: ended weeks move to the next Monday, once, in batches."""

from datetime import timedelta

import pytest
from django.core.management import CommandError

from accounts.models import Profile, User
from lib.rls import acting_as_staff
from tests.conftest import complete, run_sql, staff_get, start_session
from tests.ops.helpers import last_log, log_count, refuse_changes_to, run_command


def _set_week(user, count: int, weeks_ago: int) -> None:
    with acting_as_staff():
        run_sql(
            "UPDATE profiles SET current_week_completion_count = %s,"
            " week_reset_date = next_week_start(now()) - make_interval(weeks => %s) WHERE id = %s",
            [count, weeks_ago, user.pk],
        )


def _profiles() -> list[tuple]:
    with acting_as_staff():
        return list(
            Profile.objects.order_by("pk").values_list(
                "pk", "current_week_completion_count", "week_reset_date", "updated_at"
            )
        )


def test_a_crossed_week_boundary_moves_to_next_monday(alice, bob):
    _set_week(alice, 3, weeks_ago=1)  # the week ended last Monday
    _set_week(bob, 2, weeks_ago=0)  # still this week
    summary = run_command("reset_weekly_limits")
    assert summary.startswith("Reset 1 profile to the week") and " in 1 batch in " in summary
    alice_profile, bob_profile = staff_get(Profile, pk=alice.pk), staff_get(Profile, pk=bob.pk)
    assert alice_profile.current_week_completion_count == 0
    assert alice_profile.week_reset_date == bob_profile.week_reset_date
    assert alice_profile.week_reset_date.weekday() == 0
    assert alice_profile.week_reset_date.hour == 0 and alice_profile.week_reset_date.minute == 0
    assert bob_profile.current_week_completion_count == 2
    log = last_log("weekly_limit_reset")
    assert log.metadata["profiles_reset"] == 1
    assert {"week_start", "next_reset", "oldest_missed_reset", "duration_ms"} <= set(log.metadata)


def test_missed_weeks_are_recovered_in_one_step(alice, marketplace):
    complete(start_session(alice, marketplace))  # one completion this week
    _set_week(alice, 3, weeks_ago=5)  # five Mondays missed
    run_command("reset_weekly_limits")
    profile = staff_get(Profile, pk=alice.pk)
    assert profile.current_week_completion_count == 1  # what this week already holds
    assert timedelta(0) < profile.week_reset_date - profile.updated_at <= timedelta(days=7)
    assert last_log("weekly_limit_reset").metadata["oldest_missed_reset"] is not None


def test_a_second_run_changes_nothing(alice, bob):
    _set_week(alice, 3, weeks_ago=1)
    run_command("reset_weekly_limits")
    before = _profiles()
    assert run_command("reset_weekly_limits").startswith("Reset 0 profiles")
    assert _profiles() == before
    assert last_log("weekly_limit_reset").metadata["profiles_reset"] == 0


def test_dry_run_changes_nothing(alice, bob):
    _set_week(alice, 3, weeks_ago=2)
    before = _profiles()
    summary = run_command("reset_weekly_limits", "--dry-run")
    assert "would reset 1 profile to" in summary and "nothing changed" in summary
    assert _profiles() == before
    assert log_count("weekly_limit_reset") == 0


def test_resets_in_batches(db):
    learners = [User.objects.create_user(f"l{i}@example.com") for i in range(5)]
    for learner in learners:
        _set_week(learner, 1, weeks_ago=1)
    summary = run_command("reset_weekly_limits", "--batch-size", "2")
    assert "Reset 5 profiles" in summary and "in 3 batches" in summary
    metadata = last_log("weekly_limit_reset").metadata
    assert metadata["batches"] == 3 and metadata["batch_size"] == 2


def test_a_failure_exits_non_zero_and_leaves_an_error_row(alice):
    _set_week(alice, 1, weeks_ago=1)
    refuse_changes_to("profiles")
    with pytest.raises(CommandError, match="refused by test"):
        run_command("reset_weekly_limits")
    error = last_log("database_error")
    assert error.level == "error" and error.metadata["command"] == "reset_weekly_limits"
    assert "refused by test" in error.metadata["error"]
    assert log_count("weekly_limit_reset") == 0
    assert staff_get(Profile, pk=alice.pk).current_week_completion_count == 1
