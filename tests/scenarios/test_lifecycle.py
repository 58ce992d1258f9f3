"""scenarios.lifecycle: starting, the weekly limit, restoring and abandoning sessions."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from accounts.models import Profile
from chat.models import Message
from eventlog.models import Log
from lib.rls import acting_as_staff
from scenarios import lifecycle
from scenarios.lifecycle import ActiveSessionExists, WeeklyLimitReached
from scenarios.models import Session
from tests.conftest import complete, raw_connection, run_sql, staff_get
from tests.journey_helpers import events_for, set_week


def test_start_creates_the_session_and_logs_it(alice, marketplace):
    session = lifecycle.start_session(alice.pk, marketplace)
    assert lifecycle.active_session(alice.pk) == session
    assert events_for(alice) >= {"session_created", "scenario_started", "rate_limit_checked"}


def test_what_start_runs_after_it_is_part_of_the_start(alice, marketplace):
    def fail(session):
        raise RuntimeError("the opening lines could not be added")

    with pytest.raises(RuntimeError):
        lifecycle.start_session(alice.pk, marketplace, then=fail)
    assert lifecycle.active_session(alice.pk) is None


def test_the_third_completion_of_the_week_is_allowed(alice, marketplace):
    set_week(alice, completed=2)
    session = lifecycle.start_session(alice.pk, marketplace)
    complete(session)
    allowance = lifecycle.weekly_allowance(alice.pk)
    assert (allowance.completed, allowance.left, allowance.reached) == (3, 0, True)


def test_fourth_start_in_a_week_is_refused_and_creates_nothing(alice, marketplace):
    set_week(alice, completed=3)
    with pytest.raises(WeeklyLimitReached) as refused:
        lifecycle.start_session(alice.pk, marketplace)
    assert refused.value.reset_at == staff_get(Profile, pk=alice.pk).week_reset_date
    with acting_as_staff():
        assert not Session.objects.of(alice.pk).active().exists()
        exceeded = Log.objects.get(user_id=alice.pk, event_type="weekly_limit_reached")
    assert exceeded.metadata["completions_this_week"] == 3
    assert exceeded.metadata["limit"] == 3


def test_an_overdue_week_is_reset_lazily_at_start(alice, marketplace):
    set_week(alice, completed=3, resets_at=datetime.now(UTC) - timedelta(hours=1))
    lifecycle.start_session(alice.pk, marketplace)
    profile = staff_get(Profile, pk=alice.pk)
    assert profile.current_week_completion_count == 0
    assert profile.week_reset_date == _next_monday()
    assert "weekly_limit_reset" in events_for(alice)


def test_overdue_week_shows_as_a_fresh_allowance(alice):
    set_week(alice, completed=3, resets_at=datetime.now(UTC) - timedelta(days=1))
    allowance = lifecycle.weekly_allowance(alice.pk)
    assert (allowance.left, allowance.resets_at) == (3, _next_monday())


def test_a_second_start_asks_before_replacing(alice, marketplace, party):
    first = lifecycle.start_session(alice.pk, marketplace)
    with pytest.raises(ActiveSessionExists) as asked:
        lifecycle.start_session(alice.pk, party)
    assert asked.value.session.pk == first.pk
    second = lifecycle.start_session(alice.pk, party, replacing=first.pk)
    with acting_as_staff():
        assert list(Session.objects.filter(user_id=alice.pk)) == [second]
        assert not Message.objects.filter(session_id=first.pk).exists()
        abandoned = Log.objects.get(event_type="scenario_abandoned", user_id=alice.pk)
    assert (abandoned.session_id, abandoned.former_session_id) == (None, first.pk)


def test_abandon_deletes_only_an_active_session(alice, marketplace):
    session = lifecycle.start_session(alice.pk, marketplace)
    assert lifecycle.abandon_session(alice.pk, session.pk) is True
    assert lifecycle.active_session(alice.pk) is None
    assert lifecycle.abandon_session(alice.pk, session.pk) is False
    done = complete(lifecycle.start_session(alice.pk, marketplace))
    assert lifecycle.abandon_session(alice.pk, done.pk) is False
    assert staff_get(Session, pk=done.pk).is_completed


def test_a_learner_cannot_abandon_or_restore_a_strangers_session(alice, bob, marketplace):
    session = lifecycle.start_session(alice.pk, marketplace)
    assert lifecycle.abandon_session(bob.pk, session.pk) is False
    with pytest.raises(Session.DoesNotExist):
        lifecycle.restore_session(bob.pk, session.pk)
    assert staff_get(Session, pk=session.pk)


def test_restore_logs_session_restored(alice, marketplace):
    session = lifecycle.start_session(alice.pk, marketplace)
    lifecycle.restore_session(alice.pk, session.pk)
    with acting_as_staff():
        restored = Log.objects.get(event_type="session_restored")
    assert (restored.user_id, restored.session_id) == (alice.pk, session.pk)


def test_start_log_metadata_has_ids_and_counts_only(alice, marketplace):
    lifecycle.start_session(alice.pk, marketplace)
    with acting_as_staff():
        rows = list(Log.objects.filter(user_id=alice.pk).values_list("metadata", flat=True))
    text = repr(rows)
    assert "alice@" not in text and marketplace.initial_message_main not in text


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_concurrent_starts_create_one_session(alice, marketplace, party):
    outcomes: list[object] = []

    def start(scenario):
        try:
            outcomes.append(lifecycle.start_session(alice.pk, scenario))
        except BaseException as exc:  # examined in the main thread below
            outcomes.append(exc)
        finally:
            connection.close()

    with raw_connection() as holder, raw_connection() as watcher:
        watcher.autocommit = True  # pg_stat_activity is a snapshot per transaction
        # Hold the profile lock so that both starts are queued behind it at once.
        holder.execute("SET ROLE maraum_staff")
        holder.execute("SELECT 1 FROM profiles WHERE id = %s FOR UPDATE", [alice.pk])
        racers = [threading.Thread(target=start, args=(s,)) for s in (marketplace, party)]
        for racer in racers:
            racer.start()
        # The first start waits for the holder, the second for the first (the row lock queue).
        waiting = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND cardinality(pg_blocking_pids(pid)) > 0"
        )
        while watcher.execute(waiting).fetchone()[0] < 2:
            assert all(racer.is_alive() for racer in racers), outcomes
        holder.commit()
        for racer in racers:
            racer.join(timeout=10)
        assert not any(racer.is_alive() for racer in racers)
    started = [o for o in outcomes if isinstance(o, Session)]
    refused = [o for o in outcomes if isinstance(o, ActiveSessionExists)]
    assert (len(started), len(refused)) == (1, 1), outcomes
    assert refused[0].session.pk == started[0].pk
    with acting_as_staff():
        assert Session.objects.filter(user_id=alice.pk).count() == 1
    run_sql("SELECT 1")


def _next_monday() -> datetime:
    today = datetime.now(UTC).date()
    monday = today + timedelta(days=7 - today.weekday())
    return datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
