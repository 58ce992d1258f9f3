"""manage.py cleanup: expired sessions and old logs go in batches; fresh and completed stay."""

import threading
import uuid
from datetime import timedelta

import pytest
from django.core.management import CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from chat.models import Message
from eventlog.models import Log
from lib.rls import acting_as_staff
from scenarios.models import Session
from tests.conftest import add_message, complete, raw_connection, run_sql, start_session
from tests.ops.helpers import (
    add_log,
    age_session,
    last_log,
    log_count,
    refuse_changes_to,
    run_command,
)


def _learners(count: int) -> list[User]:
    return [User.objects.create_user(f"learner{i}@example.com") for i in range(count)]


def _session_ids() -> set:
    with acting_as_staff():
        return set(Session.objects.values_list("pk", flat=True))


@pytest.fixture
def mixed_sessions(alice, bob, marketplace):
    carol = User.objects.create_user("carol@example.com")
    expired = start_session(alice, marketplace)
    add_message(expired, "scenario", "main")
    add_message(expired, "user", "helper")
    age_session(expired, 7.1)
    fresh = start_session(bob, marketplace)
    age_session(fresh, 6.9)
    done = complete(start_session(carol, marketplace))
    age_session(done, 30)
    return expired, fresh, done


def test_expired_sessions_go_fresh_and_completed_ones_stay(mixed_sessions):
    expired, fresh, done = mixed_sessions
    summary = run_command("cleanup", "--sessions-only")
    assert summary.strip() == summary.strip().splitlines()[0]  # one line
    assert "1 expired sessions (2 messages)" in summary
    assert _session_ids() == {fresh.pk, done.pk}
    with acting_as_staff():
        assert not Message.objects.filter(session_id=expired.pk).exists()
    log = last_log("cleanup_job_executed")
    assert log.level == "info"
    assert log.metadata["deleted_sessions"] == 1 and log.metadata["deleted_messages"] == 2
    assert log.metadata["session_cutoff"] and log.metadata["duration_ms"] >= 0
    assert log.metadata["deleted_logs"] is None  # --sessions-only


def test_a_session_the_learner_comes_back_to_does_not_expire_under_the_page(
    client, alice, marketplace
):
    """Reopened after a week idle ("Continue"), it was deleted by the next cleanup while open
    (the attacker's replay): coming back is activity, as a message is."""
    session = start_session(alice, marketplace)
    age_session(session, 7.5)
    client.force_login(alice)
    assert client.get(f"/sessions/{session.pk}/").status_code == 200
    assert "0 expired sessions" in run_command("cleanup", "--sessions-only")
    assert session.pk in _session_ids()


def test_logs_older_than_30_days_go(db):
    add_log(31)
    add_log(29)
    summary = run_command("cleanup", "--logs-only")
    assert "1 more old logs" in summary
    with acting_as_staff():
        assert Log.objects.filter(event_type="user_logout").count() == 1
    log = last_log("cleanup_job_executed")
    assert log.metadata["deleted_logs"] == 1 and log.metadata["log_cutoff"]
    assert log.metadata["deleted_sessions"] is None  # --logs-only


def _month_table(days_old: float) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 'logs_' || to_char((now() - make_interval(secs => %s)) AT TIME ZONE 'UTC',"
            " 'YYYY_MM')",
            [days_old * 86400],
        )
        return cursor.fetchone()[0]


def _table_of_log(event_type: str) -> str:
    with acting_as_staff(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM logs WHERE event_type = %s", [event_type]
        )
        return cursor.fetchone()[0]


def _make_month(days_old: float) -> None:
    with acting_as_staff():
        run_sql(
            "SELECT add_log_partition((now() - make_interval(secs => %s))::date)",
            [days_old * 86400],
        )


def test_a_month_wholly_past_the_cutoff_is_dropped_as_a_table(db):
    _make_month(100)
    add_log(100, "api_call_started")  # a month that ended more than 30 days ago
    add_log(31, "api_call_completed")  # past the cutoff, in a month that has not wholly
    add_log(1)
    assert _table_of_log("api_call_started") == _month_table(100)
    summary = run_command("cleanup", "--logs-only")
    assert summary.startswith("Deleted 1 month of old logs and 1 more old logs")
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [_month_table(100)])
        assert cursor.fetchone()[0] is None
    with acting_as_staff():
        left = Log.objects.exclude(event_type="cleanup_job_executed")
        assert list(left.values_list("event_type", flat=True)) == ["user_logout"]
    assert last_log("cleanup_job_executed").metadata["dropped_log_months"] == 1


def test_a_log_of_a_month_without_its_table_waits_and_moves_in_when_it_is_made(db):
    add_log(200, "api_call_started")  # no table for that month: the default one keeps it
    assert _table_of_log("api_call_started") == "logs_default"
    _make_month(200)
    assert _table_of_log("api_call_started") == _month_table(200)


def test_cleanup_makes_the_coming_months_ahead(db):
    run_command("cleanup", "--logs-only")
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [_month_table(-85)])  # about three months on
        assert cursor.fetchone()[0] is not None


def test_dry_run_reports_and_changes_nothing(mixed_sessions):
    add_log(31)
    before_sessions, before_logs = _session_ids(), log_count("user_logout")
    summary = run_command("cleanup", "--dry-run")
    assert "would delete 1 expired sessions (2 messages" in summary
    assert "1 logs" in summary and "nothing changed" in summary
    assert _session_ids() == before_sessions
    assert log_count("user_logout") == before_logs
    assert log_count("cleanup_job_executed") == 0


def test_a_second_run_changes_nothing(mixed_sessions):
    add_log(31)
    run_command("cleanup")
    after = _session_ids(), log_count("user_logout")
    summary = run_command("cleanup")
    assert "Deleted 0 expired sessions (0 messages) in 0 batches" in summary
    assert "and 0 months of old logs and 0 more old logs" in summary
    assert (_session_ids(), log_count("user_logout")) == after
    assert last_log("cleanup_job_executed").metadata["deleted_sessions"] == 0


def test_deletes_in_bounded_batches(marketplace):
    for learner in _learners(5):
        age_session(start_session(learner, marketplace), 8)
    summary = run_command("cleanup", "--sessions-only", "--batch-size", "2")
    assert "5 expired sessions (0 messages) in 3 batches" in summary
    metadata = last_log("cleanup_job_executed").metadata
    assert metadata["session_batches"] == 3 and metadata["session_batch_size"] == 2
    assert metadata["deleted_sessions"] == 5
    assert _session_ids() == set()


def test_log_batches_are_bounded_too(db):
    for _ in range(5):
        add_log(40)
    run_command("cleanup", "--logs-only", "--log-batch-size", "2")
    metadata = last_log("cleanup_job_executed").metadata
    assert metadata["log_batches"] == 3 and metadata["deleted_logs"] == 5


@pytest.mark.parametrize(("table", "phase"), [("sessions", "sessions"), ("logs", "logs")])
def test_a_failure_exits_non_zero_and_leaves_an_error_row(mixed_sessions, table, phase):
    add_log(40)
    refuse_changes_to(table)
    with pytest.raises(CommandError, match="refused by test"):
        run_command("cleanup")
    error = last_log("database_error")
    assert error is not None and error.level == "error"
    assert error.metadata["command"] == "cleanup" and error.metadata["phase"] == phase
    assert error.metadata["sqlstate"] == "P0001"
    assert "refused by test" in error.metadata["error"]
    assert "Failing row" not in error.metadata["error"]  # row data never goes into logs
    assert log_count("cleanup_job_executed") == 0


def test_batch_size_must_be_positive(db):
    with pytest.raises(CommandError):
        run_command("cleanup", "--batch-size", "0")


def _expired_backlog(marketplace, count: int) -> list:
    sessions = [start_session(learner, marketplace) for learner in _learners(count)]
    for session in sessions:
        age_session(session, 8)
    return sessions


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_rows_another_run_holds_are_skipped_not_waited_for(marketplace):
    sessions = _expired_backlog(marketplace, 6)
    held = [s.pk for s in sessions[:2]]
    with raw_connection() as other:
        other.execute("SET ROLE maraum_staff")
        other.execute("SELECT id FROM sessions WHERE id = ANY(%s) FOR UPDATE", [held])
        summary = run_command("cleanup", "--sessions-only", "--batch-size", "2")
        assert "4 expired sessions" in summary
        assert _session_ids() == set(held)
        other.rollback()
    assert "2 expired sessions" in run_command("cleanup", "--sessions-only")
    assert _session_ids() == set()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_cleanups_at_once_share_the_work(marketplace):
    _expired_backlog(marketplace, 12)
    summaries, errors = [], []

    def clean():
        try:
            summaries.append(run_command("cleanup", "--sessions-only", "--batch-size", "1"))
        except BaseException as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    runs = [threading.Thread(target=clean) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=60)
    assert not errors and len(summaries) == 2
    with acting_as_staff():
        rows = Log.objects.filter(event_type="cleanup_job_executed")
        assert sum(log.metadata["deleted_sessions"] for log in rows) == 12
    assert _session_ids() == set()


def test_idle_throttle_buckets_are_pruned(db):
    from chat import allowance as throttles

    throttles.CHAT_MESSAGES.take("someone")
    throttles.CHAT_MESSAGES.take("someone else")
    with acting_as_staff():
        run_sql(
            "UPDATE throttle_buckets SET updated_at = now() - interval '2 days' WHERE key = %s",
            [throttles.CHAT_MESSAGES.key("someone")],
        )
    assert "and 1 idle throttle bucket, 0 finished background tasks," in run_command(
        "cleanup", "--dry-run"
    )
    with acting_as_staff():
        assert run_sql("SELECT count(*) FROM throttle_buckets") == [(2,)]
    summary = run_command("cleanup")
    assert "(and 1 idle throttle bucket, 0 finished background tasks," in summary
    with acting_as_staff():
        assert run_sql("SELECT count(*) FROM throttle_buckets") == [(1,)]
    assert last_log("cleanup_job_executed").metadata["deleted_throttle_buckets"] == 1


def test_finished_background_tasks_go_after_a_week(db):
    """Nothing deleted them, and the look-ups of a waiting report grew with them (150 ms at
    1,000,000 rows: the recheck replay)."""
    from django_tasks_db.models import DBTaskResult

    from chat.tasks import enqueue

    for _ in range(3):
        enqueue(uuid.uuid4())
    with acting_as_staff():
        done, old, waiting = DBTaskResult.objects.order_by("enqueued_at")
        run_sql(
            "UPDATE django_tasks_database_dbtaskresult SET status = 'SUCCESSFUL',"
            " finished_at = now() - interval '8 days' WHERE id = %s",
            [old.pk],
        )
        run_sql(
            "UPDATE django_tasks_database_dbtaskresult SET status = 'FAILED',"
            " finished_at = now() - interval '6 days' WHERE id = %s",
            [done.pk],
        )
    assert "1 finished background task," in run_command("cleanup", "--dry-run")
    with acting_as_staff():
        assert DBTaskResult.objects.count() == 3
    summary = run_command("cleanup")
    assert "1 finished background task," in summary
    with acting_as_staff():
        assert set(DBTaskResult.objects.values_list("pk", flat=True)) == {done.pk, waiting.pk}
    assert last_log("cleanup_job_executed").metadata["deleted_task_results"] == 1


def test_a_live_task_is_found_without_reading_the_finished_ones(db):
    """The look-ups of chat.tasks read an index of the live tasks alone (chat migration 0010,
    and django-tasks' own of the waiting ones)."""
    from chat import tasks

    session_id = uuid.uuid4()
    with acting_as_staff(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a few rows: it would read them all
        with CaptureQueriesContext(connection) as looked_up:
            tasks._report_task_alive(session_id, timezone.now())
            tasks._meanings_task_waits(session_id)
        live_only = ("maraum_live_tasks_idx", "tasks_db_new_ordering_idx")  # the latter: READY
        for query in looked_up.captured_queries:
            cursor.execute("EXPLAIN " + query["sql"])
            plan = str(cursor.fetchall())
            assert any(index in plan for index in live_only), plan


def test_expired_logins_are_deleted(client, alice):
    """Nothing deleted them, and Django's clearsessions could not run as the app (the ops
    replay)."""
    from django.contrib.sessions.models import Session as Login

    from lib.rls import acting_as_auth

    client.force_login(alice)
    other = Client()
    other.force_login(alice)
    with acting_as_auth():
        Login.objects.filter(session_key=other.session.session_key).update(
            expire_date=timezone.now() - timedelta(seconds=1)
        )
    assert "1 expired login)" in run_command("cleanup", "--dry-run")
    with acting_as_auth():
        assert Login.objects.count() == 2
    summary = run_command("cleanup")
    assert "1 expired login)" in summary
    with acting_as_auth():
        assert list(Login.objects.values_list("session_key", flat=True)) == [
            client.session.session_key
        ]


def test_expired_logins_go_in_short_batches(db):
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session as Login

    from accounts.logins import delete_expired_logins
    from lib.rls import acting_as_auth

    with acting_as_auth():
        for _ in range(5):
            store = SessionStore()
            store.create()
        Login.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    assert delete_expired_logins(batch_size=2) == 5
    with acting_as_auth():
        assert not Login.objects.exists()
