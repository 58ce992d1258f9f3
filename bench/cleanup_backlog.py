"""Benchmark: `manage.py cleanup` against a large backlog, with a learner writing meanwhile.

    .venv/bin/python bench/cleanup_backlog.py [--sessions 10000 --messages-per-session 100]

Creates a scratch database on the configured server (DATABASE_URL, or the embedded one),
migrates it, fills it with expired sessions and their messages using set-based SQL, then runs
the cleanup while a "learner writer" thread inserts messages into its own fresh session as
`maraum_learner` and times every insert. Prints the figures as text and as one JSON line,
writes the JSON to bench/results/cleanup_backlog.json, and always drops the scratch database.
"""

import argparse
import json
import os
import sys
import threading
import time
import uuid
from io import StringIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "maraum.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402

from accounts.models import User  # noqa: E402
from chat.models import Message  # noqa: E402
from eventlog.models import Log  # noqa: E402
from lib.rls import acting_as_learner, acting_as_staff, as_owner  # noqa: E402
from scenarios.models import Scenario, Session  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "cleanup_backlog.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--messages-per-session", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=500, help="cleanup --batch-size")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to write the JSON")
    args = parser.parse_args()

    as_owner()  # it creates, migrates and fills a database: the owner's work (fixtures as staff)
    scratch = f"maraum_bench_{uuid.uuid4().hex[:12]}"
    _create_database(scratch)
    try:
        result = _run(args, scratch)
    finally:
        _drop_database(scratch)

    print(
        f"cleanup_backlog: {result['deleted_sessions']} sessions, "
        f"{result['deleted_messages']} messages deleted in {result['total_seconds']:.2f} s "
        f"({result['batches']} batches of {args.batch_size})\n"
        f"  sessions/s:            {result['sessions_per_second']:.0f}\n"
        f"  messages/s:            {result['messages_per_second']:.0f}\n"
        f"  longest batch:         {result['longest_batch_ms']:.1f} ms\n"
        f"  learner writer:        {result['writer_inserts']} inserts, longest wait "
        f"{result['writer_longest_wait_ms']:.1f} ms, p99 {result['writer_p99_wait_ms']:.1f} ms\n"
        f"  (fill took {result['fill_seconds']:.1f} s; server {result['server']})"
    )
    line = json.dumps(result, sort_keys=True)
    print(line)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(line + "\n")


def _create_database(name: str) -> None:
    with connection._nodb_cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    # Every thread's connection is built from this same settings dict.
    connections["default"].settings_dict["NAME"] = name


def _drop_database(name: str) -> None:
    connections.close_all()
    with connection._nodb_cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run(args, scratch: str) -> dict:
    call_command("migrate", verbosity=0)
    fill_started = time.monotonic()
    _fill_backlog(args.sessions, args.messages_per_session)
    fill_seconds = time.monotonic() - fill_started
    with acting_as_staff():
        expected_messages = Message.objects.count()

    writer = LearnerWriter()
    writer.start()
    writer.ready.wait(30)
    started = time.monotonic()
    out = StringIO()
    call_command("cleanup", "--batch-size", str(args.batch_size), stdout=out)
    total_seconds = time.monotonic() - started
    writer.stop()

    with acting_as_staff():
        log = Log.objects.filter(event_type="cleanup_job_executed").latest("created_at")
        left = Session.objects.filter(is_completed=False, user__email__startswith="bench-").count()
        left_messages = Message.objects.exclude(session_id=writer.session_id).count()
    if writer.error:
        raise SystemExit(f"learner writer failed: {writer.error}")
    if left or left_messages:
        raise SystemExit(f"cleanup left {left} sessions and {left_messages} messages behind")
    meta = log.metadata
    if meta["deleted_messages"] != expected_messages:
        raise SystemExit(f"deleted {meta['deleted_messages']} of {expected_messages} messages")
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version')")
        server = f"PostgreSQL {cursor.fetchone()[0]}"
    waits = sorted(writer.waits_ms)
    return {
        "sessions": args.sessions,
        "messages_per_session": args.messages_per_session,
        "batch_size": args.batch_size,
        "deleted_sessions": meta["deleted_sessions"],
        "deleted_messages": meta["deleted_messages"],
        "batches": meta["session_batches"],
        "total_seconds": round(total_seconds, 3),
        "sessions_per_second": round(meta["deleted_sessions"] / total_seconds, 1),
        "messages_per_second": round(meta["deleted_messages"] / total_seconds, 1),
        "longest_batch_ms": meta["longest_batch_ms"],
        "writer_inserts": len(waits),
        "writer_longest_wait_ms": round(waits[-1], 1) if waits else 0.0,
        "writer_p99_wait_ms": round(waits[int(len(waits) * 0.99)], 1) if waits else 0.0,
        "fill_seconds": round(fill_seconds, 1),
        "server": server,
        "summary": out.getvalue().strip(),
    }


def _fill_backlog(sessions: int, messages_per_session: int) -> None:
    """Set-based fill: one learner per session (one active session each), all long expired."""
    scenario_ids = list(Scenario.objects.values_list("pk", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO accounts_user (id, password, is_superuser, email, is_staff, is_active,"
            " date_joined) SELECT gen_random_uuid(), '!', false, 'bench-' || n || '@example.com',"
            " false, true, now() FROM generate_series(1, %s) n",
            [sessions],
        )
    with acting_as_staff(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO sessions (user_id, scenario_id, started_at, last_activity_at)"
            " SELECT p.id, (%s::int[])[1 + (row_number() OVER () %% %s)],"
            "  now() - interval '9 days', now() - interval '8 days' - random() * interval '1 day'"
            " FROM profiles p WHERE p.email LIKE 'bench-%%'",
            [scenario_ids, len(scenario_ids)],
        )
    # The per-row message triggers (counts, activity) would make a million inserts crawl: off
    # while filling only, then the counts are set in one UPDATE.
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE messages DISABLE TRIGGER USER")
    try:
        with acting_as_staff(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO messages (session_id, user_id, role, chat_type, content, sent_at)"
                " SELECT s.id, s.user_id,"
                "  (CASE WHEN n %% 4 = 1 THEN 'scenario' WHEN n %% 4 = 3 THEN 'helper'"
                "   ELSE 'user' END)::message_role,"
                "  (CASE WHEN n %% 4 IN (0, 3) THEN 'helper' ELSE 'main' END)::chat_type,"
                "  'Nachricht Nummer ' || n || ' im Rollenspiel.',"
                "  s.started_at + n * interval '1 second'"
                " FROM sessions s CROSS JOIN generate_series(1, %s) n",
                [messages_per_session],
            )
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE messages ENABLE TRIGGER USER")
    with acting_as_staff(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE sessions s SET message_count_main = c.main, message_count_helper = c.helper"
            " FROM (SELECT session_id, count(*) FILTER (WHERE chat_type = 'main') AS main,"
            "  count(*) FILTER (WHERE chat_type = 'helper') AS helper"
            "  FROM messages GROUP BY session_id) c WHERE s.id = c.session_id"
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


class LearnerWriter(threading.Thread):
    """A learner chatting during the cleanup: one message insert per loop, each timed."""

    def __init__(self):
        super().__init__(daemon=True)
        self.ready, self._stopping = threading.Event(), threading.Event()
        self.waits_ms: list[float] = []
        self.session_id = None
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            learner = User.objects.create_user("writer@example.com")
            scenario = Scenario.objects.first()
            with acting_as_learner(learner.pk):
                self.session_id = Session.objects.create(user_id=learner.pk, scenario=scenario).pk
            self.ready.set()
            n = 0
            while not self._stopping.is_set():
                n += 1
                started = time.monotonic()
                with acting_as_learner(learner.pk):
                    Message.objects.create(
                        session_id=self.session_id,
                        role="user",
                        chat_type="main",
                        content=f"Noch eine Frage, Nummer {n}?",
                    )
                self.waits_ms.append((time.monotonic() - started) * 1000)
                time.sleep(0.002)
        except Exception as error:  # reported by the main thread
            self.error = error
            self.ready.set()
        finally:
            connection.close()

    def stop(self) -> None:
        self._stopping.set()
        self.join(30)


if __name__ == "__main__":
    main()
