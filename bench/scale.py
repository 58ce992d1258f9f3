"""Data at scale: the admin's lists, a learner's history and `cleanup` as the tables grow,
measured at two sizes and projected to 1,000,000 sessions and 100,000,000 log rows.

    .venv/bin/python bench/scale.py [--steps 20000:1000000,100000:5000000]

Each step grows a scratch database (set-based SQL, as the owner) to that many completed
sessions (10 messages each) and log rows (spread over the 30 days kept), then times each page
(the median of 5 requests through the whole Django stack, in this process) and one `cleanup`
run with a day's backlog (1,000 expired sessions). The projection is the straight line through
the two measured steps: a figure that does not grow with the tables stays flat. Prints a table
and writes bench/results/scale.json.
"""

import argparse
import os
import statistics
import time
from io import StringIO

import harness  # bench/harness.py, beside this script

LEARNER_PAGES = {"learner home (past scenes)": "/"}
STAFF_PAGES = {
    "admin: logs": "/admin/eventlog/log/",
    "admin: logs of one learner": "/admin/eventlog/log/?q={learner}",
    "admin: logs of a deleted session": "/admin/eventlog/log/?q={deleted_session}",
    "admin: logs, errors only": "/admin/eventlog/log/?level__exact=error",
    "admin: sessions": "/admin/scenarios/session/",
    "admin: sessions of one learner": "/admin/scenarios/session/?q={email}",
}
TARGET_SESSIONS, TARGET_LOGS = 1_000_000, 100_000_000
# One in 20 log rows is about a session deleted since, 20 rows per such session (the fill below).
DELETED_SESSION = "c4ca4238-a0b9-2382-0dcc-509a6f75849b"  # md5('1')::uuid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", default="20000:1000000,100000:5000000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    steps = [tuple(int(n) for n in step.split(":")) for step in args.steps.split(",")]

    os.environ["HTTPS"] = "false"  # plain http in this process's requests
    results = {"steps": [], "projected": {}}
    with harness.scratch_database() as database:
        harness.setup_django(database)
        learner, staff = _people()
        for sessions, logs in steps:
            started = time.monotonic()
            _grow(sessions, logs)
            figures = {
                "sessions": sessions,
                "logs": logs,
                "fill_seconds": round(time.monotonic() - started, 1),
                "ms": {},
            }
            for name, path in LEARNER_PAGES.items():
                figures["ms"][name] = _page(learner["cookie"], path, args.repeat)
            for name, path in STAFF_PAGES.items():
                url = path.format(
                    learner=learner["user_id"],
                    email=learner["email"],
                    deleted_session=DELETED_SESSION,
                )
                figures["ms"][name] = _page(staff["cookie"], url, args.repeat)
            figures["ms"]["cleanup (a day's backlog)"] = _cleanup()
            results["steps"].append(figures)
            _print_step(figures)
        if len(steps) >= 2:
            results["projected"] = _project(results["steps"][-2], results["steps"][-1])
            _print_projection(results["projected"])
        path = harness.write_results("scale", results)
        print(f"written to {path}")


def _people() -> tuple[dict, dict]:
    """A learner with 50 completed scenes and a staff member, each logged in."""
    from accounts.models import User
    from lib.rls import acting_as_staff
    from tests.support.logins import login_session_key

    learner = harness.create_learners(1, completed_sessions=50)[0]
    with acting_as_staff():
        learner["email"] = User.objects.get(pk=learner["user_id"]).email
    staff = User.objects.create_user("bench-staff@example.com", None, is_staff=True)
    staff.is_superuser = True
    staff.save()
    return learner, {"cookie": f"sessionid={login_session_key(staff)}"}


def _grow(sessions: int, logs: int) -> None:
    """Up to `sessions` completed sessions (10 learners' worth each 10) and `logs` log rows."""
    from django.db import connection

    from lib.rls import acting_as_staff

    with acting_as_staff(), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sessions")
        have_sessions = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM logs")
        have_logs = cursor.fetchone()[0]
    more = max(0, sessions - have_sessions)
    learners = (more + 9) // 10
    # Per-row triggers (counts, activity, the weekly limit) would make this crawl, and the
    # rows are finished history: off while filling, as the owner, and on again.
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE sessions DISABLE TRIGGER USER")
        cursor.execute("ALTER TABLE messages DISABLE TRIGGER USER")
        try:
            tag = f"scale{have_sessions}"
            cursor.execute(
                "INSERT INTO accounts_user (id, password, is_superuser, email, is_staff,"
                " is_active, date_joined) SELECT gen_random_uuid(), '!', false,"
                " %s || '-' || n || '@example.com', false, true, now()"
                " FROM generate_series(1, %s) n",
                [tag, learners],
            )
            with acting_as_staff(), connection.cursor() as staff:  # sessions: RLS even for owners
                staff.execute(
                    "INSERT INTO sessions (user_id, scenario_id, is_completed, started_at,"
                    " last_activity_at, completed_at, message_count_main, message_count_helper,"
                    " duration_seconds)"
                    " SELECT u.id, (SELECT min(id) FROM scenarios), true, t, t,"
                    " t + interval '9 min', 6, 4, 540"
                    " FROM accounts_user u CROSS JOIN generate_series(1, 10) k"
                    " CROSS JOIN LATERAL (SELECT now() - k * interval '2 days') d(t)"
                    " WHERE u.email LIKE %s LIMIT %s",
                    [f"{tag}-%", more],
                )
                staff.execute(
                    "INSERT INTO messages (session_id, user_id, role, chat_type, content, sent_at)"
                    " SELECT s.id, s.user_id,"
                    "  (CASE WHEN n %% 5 = 0 THEN 'helper' WHEN n %% 5 = 4 THEN 'user'"
                    "   WHEN n %% 2 = 0 THEN 'scenario' ELSE 'user' END)::message_role,"
                    "  (CASE WHEN n %% 5 IN (0, 4) THEN 'helper' ELSE 'main' END)::chat_type,"
                    "  'Nachricht Nummer ' || n || ' im Rollenspiel.',"
                    "  s.started_at + n * interval '1 second'"
                    " FROM sessions s JOIN accounts_user u ON u.id = s.user_id"
                    " CROSS JOIN generate_series(1, 10) n WHERE u.email LIKE %s",
                    [f"{tag}-%"],
                )
        finally:
            cursor.execute("ALTER TABLE sessions ENABLE TRIGGER USER")
            cursor.execute("ALTER TABLE messages ENABLE TRIGGER USER")
        # Logs over the 30 days kept (their month partitions exist: migrations and cleanup),
        # about the sessions above. The app writes logs only through write_log(); the fill goes
        # round it, as the owner.
        with acting_as_staff(), connection.cursor() as staff:
            # Last month's table too, as a server running for a while has it.
            staff.execute("SELECT add_log_partition((now() - interval '30 days')::date)")
            staff.execute("SELECT user_id, id FROM sessions")
            users, sessions_ = (list(column) for column in zip(*staff.fetchall(), strict=True))
        cursor.execute("ALTER TABLE logs NO FORCE ROW LEVEL SECURITY")
        cursor.execute(
            "INSERT INTO logs (id, level, event_type, user_id, session_id, former_session_id,"
            "  metadata, created_at)"
            " SELECT gen_random_uuid(), CASE WHEN n %% 100 = 0 THEN 'error' ELSE 'info' END,"
            "  'api_call_completed', s.user_id,"
            "  CASE WHEN n %% 20 <> 0 THEN s.session_id END,"
            "  CASE WHEN n %% 20 = 0 THEN md5((n / 400)::text)::uuid END,"
            "  jsonb_build_object('latency_ms', n %% 5000, 'chat', 'main'),"
            "  now() - (n %% 2592000) * interval '1 second'"
            " FROM generate_series(%s + 1, %s) n"
            " JOIN unnest(%s::uuid[], %s::uuid[]) WITH ORDINALITY s(user_id, session_id, k)"
            "  ON s.k = 1 + n %% %s",
            [have_logs, logs, users, sessions_, len(users)],
        )
        cursor.execute("ALTER TABLE logs FORCE ROW LEVEL SECURITY")
        cursor.execute("ANALYZE")


def _page(cookie: str, path: str, repeat: int) -> float:
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1", HTTP_COOKIE=cookie)
    client.get(path)  # warm: templates, caches
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{path}: HTTP {response.status_code}")
    return round(statistics.median(timings), 1)


def _cleanup() -> float:
    """One `cleanup` with a day's backlog: 1,000 sessions expired, with 10 messages each."""
    from django.core.management import call_command
    from django.db import connection

    from lib.rls import acting_as_staff

    expiring = harness.create_learners(1_000, prefix=f"expiring-{time.monotonic_ns()}-")
    ids = [who["session_id"] for who in expiring]
    with acting_as_staff(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE sessions SET last_activity_at = now() - interval '8 days'"
            " WHERE id = ANY(%s::uuid[])",
            [ids],
        )
    out = StringIO()
    started = time.perf_counter()
    call_command("cleanup", stdout=out)
    took = round((time.perf_counter() - started) * 1000, 1)
    with acting_as_staff(), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sessions WHERE id = ANY(%s::uuid[])", [ids])
        if cursor.fetchone()[0]:
            raise SystemExit(f"cleanup left expired sessions: {out.getvalue()}")
    return took


def _project(small: dict, large: dict) -> dict:
    """Each figure on the straight line through the two steps, at the target size (by log
    rows for the log pages, by sessions for the rest)."""
    projected = {}
    for name, at_large in large["ms"].items():
        by_logs = "logs" in name or name.startswith("cleanup")
        x0, x1, target = (
            (small["logs"], large["logs"], TARGET_LOGS)
            if by_logs
            else (small["sessions"], large["sessions"], TARGET_SESSIONS)
        )
        slope = (at_large - small["ms"][name]) / (x1 - x0)
        projected[name] = round(max(at_large, at_large + slope * (target - x1)), 1)
    return projected


def _print_step(figures: dict) -> None:
    print(
        f"\n== {figures['sessions']:,} sessions, {figures['logs']:,} log rows"
        f" (filled in {figures['fill_seconds']} s)"
    )
    for name, ms in figures["ms"].items():
        print(f"  {name:32s} {ms:9.1f} ms")


def _print_projection(projected: dict) -> None:
    print(f"\n== projected to {TARGET_SESSIONS:,} sessions and {TARGET_LOGS:,} log rows")
    for name, ms in projected.items():
        print(f"  {name:32s} {ms:9.1f} ms")


if __name__ == "__main__":
    main()
