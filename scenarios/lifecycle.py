"""A learner's sessions from start to finish, and the week they count in: the one place the
views, the chat, the admin and the ops commands go through to start, find, restore, complete,
abandon and expire a session, and to read or roll over a learner's week.

The week itself (three completions, Monday 00:00 UTC) is the database's: `learner_week()` reads
it and `roll_week_over()` moves an ended week on, for the completion trigger, the start of a
scene and the weekly reset alike (scenarios migrations).

Every learner function acts as the given learner (row-level security) inside its own
transaction or savepoint (reads join the caller's), so it can be called from a request
(already acting as that learner: no query is added) or from the chat.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from django.db import IntegrityError, connection, transaction
from django.db.models.functions import Now
from django.dispatch import Signal

from accounts import levels
from eventlog.events import Event, log_event
from lib.postgres import constraint_name
from lib.rls import acting_as_learner, acting_as_staff
from scenarios.models import Scenario, Session

WEEKLY_COMPLETION_LIMIT = 3  # decision 18: three completed conversations a week
SESSION_EXPIRY = timedelta(days=7)  # decision 4: an unfinished session is deleted after a week

# Sent once expired sessions are deleted (in SQL: no model signal), with their `session_ids`:
# the chat closes the tabs still open on them.
sessions_expired = Signal()


class WeeklyLimitReached(Exception):
    """This week's completions are used up; starting again is possible from `reset_at`."""

    def __init__(self, reset_at: datetime):
        super().__init__(f"Weekly limit reached until {reset_at.isoformat()}")
        self.reset_at = reset_at


class ActiveSessionExists(Exception):
    """The learner already has an active session; the caller must ask before replacing it."""

    def __init__(self, session: Session):
        super().__init__(f"Session {session.pk} is still active")
        self.session = session


@dataclass(frozen=True)
class WeeklyAllowance:
    completed: int
    resets_at: datetime
    limit: int = WEEKLY_COMPLETION_LIMIT
    carried: int = 0  # of `completed`, those of an account with this email deleted this week

    @property
    def left(self) -> int:
        return max(self.limit - self.completed, 0)

    @property
    def reached(self) -> bool:
        return self.completed >= self.limit


# --- The week ---------------------------------------------------------------------------------


def weekly_allowance(learner_id: UUID | str) -> WeeklyAllowance:
    """The learner's week as it stands now (an ended week reads as the current one)."""
    with acting_as_learner(learner_id, savepoint=False), connection.cursor() as cursor:
        cursor.execute(
            "SELECT w.completed, w.resets_at, CASE WHEN p.carried_week_start"
            " = w.resets_at - interval '7 days' THEN p.carried_completions ELSE 0 END"
            " FROM learner_week(%s) AS w, profiles AS p WHERE p.id = %s",
            [learner_id, learner_id],
        )
        completed, resets_at, carried = cursor.fetchone()
        return WeeklyAllowance(completed, resets_at, carried=carried)


def week_ends() -> datetime:
    """When the current week ends for everyone: the next Monday 00:00 UTC."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT next_week_start(now())")
        return cursor.fetchone()[0]


def count_ended_weeks() -> tuple[int, datetime | None]:
    """Profiles whose week has ended, and the oldest such end (for a dry run)."""
    with acting_as_staff(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), min(week_reset_date) FROM profiles WHERE week_reset_date <= now()"
        )
        return cursor.fetchone()


def roll_weeks_over(limit: int) -> tuple[int, datetime | None]:
    """Roll up to `limit` ended weeks over, in one transaction: (how many, the oldest end).
    Rows are locked with SKIP LOCKED and re-checked, so concurrent runs share the work."""
    with acting_as_staff(), connection.cursor() as cursor:
        cursor.execute(
            """
            WITH due AS MATERIALIZED (  -- picked once: see expire_sessions()
              SELECT id, week_reset_date AS ended FROM profiles WHERE week_reset_date <= now()
              ORDER BY week_reset_date, id LIMIT %s FOR UPDATE SKIP LOCKED
            )
            SELECT count(*), min(ended) FROM due WHERE roll_week_over(id)
            """,
            [limit],
        )
        return cursor.fetchone()


def forget_ended_weeks_of_deleted_accounts() -> int:
    """Forget what deleted accounts completed in weeks that have ended (a deleted account's
    week counts for a new account with its email until the week ends): how many."""
    with acting_as_staff(), connection.cursor() as cursor:
        cursor.execute("SELECT forget_ended_weeks_of_deleted_accounts()")
        return cursor.fetchone()[0]


# --- Finding sessions -------------------------------------------------------------------------


def find_session(learner_id: UUID | str, session_id: UUID | str) -> Session | None:
    """One of the learner's sessions, active or completed, with its scenario; None for anyone
    else's (row-level security hides them) or none at all."""
    with acting_as_learner(learner_id, savepoint=False):
        return Session.objects.with_scenario().of(learner_id).filter(pk=session_id).first()


def was_ended_and_deleted(learner_id: UUID | str, session_id: UUID | str) -> bool:
    """Whether the learner ended and deleted this session ("End and delete", or "End it and
    start …"), as the log says while it keeps the event (30 days): its address then says so,
    where it said "We couldn't find that page" (a newcomer's walk). Another learner's never."""
    with acting_as_learner(learner_id, savepoint=False), connection.cursor() as cursor:
        cursor.execute("SELECT learner_ended_and_deleted(%s)", [str(session_id)])
        return cursor.fetchone()[0]


def active_session(learner_id: UUID | str) -> Session | None:
    """The learner's one incomplete session, with its scenario, or None."""
    with acting_as_learner(learner_id, savepoint=False):
        return Session.objects.with_scenario().of(learner_id).active().first()


# --- A session's life -------------------------------------------------------------------------


def start_session(
    learner_id: UUID | str,
    scenario: Scenario,
    *,
    replacing: UUID | str | None = None,
    level: str | None = None,
    then: Callable[[Session], None] | None = None,
) -> Session:
    """Start `scenario` for the learner at `level` (which becomes their level; default: the
    level they have); `then(session)` runs in the same transaction (the chat adds the opening
    lines there), so a session never exists without them.

    Raises WeeklyLimitReached when this week's completions are used up, and
    ActiveSessionExists when another session is active, unless it is the one `replacing`
    names (the one the learner was asked about and agreed to end): that one is abandoned
    first. Refusals are logged and nothing is created.
    """
    with acting_as_learner(learner_id):
        refusal = _refusal_to_start(learner_id, scenario, replacing)
        if refusal is None:
            try:
                with transaction.atomic():
                    session = _create_session(learner_id, scenario, level)
                    if then is not None:
                        then(session)
                    return session
            except IntegrityError as error:
                # The unique index on active sessions is the last line of defence.
                if constraint_name(error) != "idx_sessions_one_active_per_user":
                    raise
                refusal = ActiveSessionExists(Session.objects.of(learner_id).active().get())
    # Raised outside the savepoint, so the refusal's log rows are kept.
    raise refusal


def restore_session(learner_id: UUID | str, session_id: UUID | str) -> None:
    """The learner comes back to their active session; Session.DoesNotExist if it is not one.
    Coming back is activity, as a message is: a session reopened after a week idle was
    deleted by the next cleanup under the open page (the attacker's replay)."""
    with acting_as_learner(learner_id):
        sessions = Session.objects.of(learner_id).active().filter(pk=session_id)
        if not sessions.update(last_activity_at=Now()):
            raise Session.DoesNotExist
        log_event(Event.SESSION_RESTORED, user_id=learner_id, session_id=session_id)


def complete_session(
    learner_id: UUID | str, session_id: UUID | str, *, main_messages: int, ended_by: str
) -> WeeklyAllowance | None:
    """Complete the learner's active session: the database stamps `completed_at`, the duration
    and the week's count. Returns the learner's week as it now stands, or None if the session
    was not active (already completed, or gone)."""
    with acting_as_learner(learner_id):
        if (
            not Session.objects.of(learner_id)
            .active()
            .filter(pk=session_id)
            .update(is_completed=True)
        ):
            return None
        log_event(
            Event.SCENARIO_COMPLETED,
            user_id=learner_id,
            session_id=session_id,
            main_messages=main_messages,
            ended_by=ended_by,
        )
        return weekly_allowance(learner_id)


def abandon_session(learner_id: UUID | str, session_id: UUID | str) -> bool:
    """Delete the learner's active session (messages go with it); False if there was none."""
    with acting_as_learner(learner_id):
        return _abandon(learner_id, session_id)


@dataclass
class ExpiredSessions:
    sessions: int = 0
    messages: int = 0
    oldest_last_activity: datetime | None = None
    newest_last_activity: datetime | None = None

    def add(self, other: "ExpiredSessions") -> None:
        self.sessions += other.sessions
        self.messages += other.messages
        self.oldest_last_activity = min(
            filter(None, (self.oldest_last_activity, other.oldest_last_activity)), default=None
        )
        self.newest_last_activity = max(
            filter(None, (self.newest_last_activity, other.newest_last_activity)), default=None
        )


def count_expired_sessions(cutoff: datetime) -> ExpiredSessions:
    with acting_as_staff(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), coalesce(sum(message_count_main + message_count_helper), 0),"
            " min(last_activity_at), max(last_activity_at)"
            " FROM sessions WHERE NOT is_completed AND last_activity_at < %s",
            [cutoff],
        )
        return ExpiredSessions(*cursor.fetchone())


def expire_sessions(cutoff: datetime, limit: int) -> ExpiredSessions:
    """Delete up to `limit` sessions idle since before `cutoff` (decision 4, seed #32), oldest
    first, in one short transaction; their messages go with them (ON DELETE CASCADE).
    `FOR UPDATE SKIP LOCKED` lets two runs share the work instead of deleting rows twice.
    Once committed, `sessions_expired` tells of them."""
    with acting_as_staff(), connection.cursor() as cursor:
        cursor.execute(
            """
            -- MATERIALIZED: picked once. Inlined as a semi-join, the locking subquery could be
            -- re-scanned, skip the rows this statement already deleted and take the next ones,
            -- so the LIMIT would not bound the batch.
            WITH batch AS MATERIALIZED (
              SELECT id FROM sessions
              WHERE NOT is_completed AND last_activity_at < %(cutoff)s
              ORDER BY last_activity_at LIMIT %(limit)s
              FOR UPDATE SKIP LOCKED
            ), gone AS (
              DELETE FROM sessions s USING batch WHERE s.id = batch.id
              RETURNING s.id, s.last_activity_at,
                        s.message_count_main + s.message_count_helper AS messages
            )
            SELECT count(*), coalesce(sum(messages), 0), min(last_activity_at),
                   max(last_activity_at), coalesce(array_agg(id), '{}')
            FROM gone
            """,
            {"cutoff": cutoff, "limit": limit},
        )
        *counts, session_ids = cursor.fetchone()
    if session_ids:
        transaction.on_commit(
            lambda: sessions_expired.send(sender=Session, session_ids=session_ids)
        )
    return ExpiredSessions(*counts)


# --- The steps -----------------------------------------------------------------------------


def _refusal_to_start(
    learner_id, scenario: Scenario, replacing
) -> WeeklyLimitReached | ActiveSessionExists | None:
    allowance = _lock_and_roll_week(learner_id)
    if allowance.reached:
        log_event(
            Event.WEEKLY_LIMIT_REACHED,
            user_id=learner_id,
            completions_this_week=allowance.completed,
            limit=allowance.limit,
            scenario_id=scenario.pk,
        )
        return WeeklyLimitReached(allowance.resets_at)
    current = Session.objects.with_scenario().of(learner_id).active().first()
    if current is None:
        return None
    if replacing is None or str(current.pk) != str(replacing):
        # Not the session the learner agreed to end (a confirmation left open in a tab while
        # another one started a scene): asked again, about this one.
        return ActiveSessionExists(current)
    _abandon(learner_id, current.pk)
    return None


def _lock_and_roll_week(learner_id) -> WeeklyAllowance:
    """Lock the learner's active session and profile (one lock order with completions) and
    roll an ended week over: starts then count against the same, current week."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM begin_scenario_start()")
        completed, resets_at, rolled_over = cursor.fetchone()
    if rolled_over:
        log_event(Event.WEEKLY_LIMIT_RESET, user_id=learner_id)
    log_event(
        Event.RATE_LIMIT_CHECKED,
        user_id=learner_id,
        completions_this_week=completed,
        limit=WEEKLY_COMPLETION_LIMIT,
    )
    return WeeklyAllowance(completed, resets_at)


def _abandon(learner_id, session_id) -> bool:
    deleted = (
        Session.objects.of(learner_id)
        .active()
        .filter(pk=session_id)
        .values_list("scenario_id", "message_count_main", "message_count_helper")
        .first()
    )
    if deleted is None:
        return False
    # Confirmed in several requests at once, each read the row and logged its deletion; only
    # the one whose delete took the row does (the attacker's recheck).
    _, by_model = Session.objects.of(learner_id).active().filter(pk=session_id).delete()
    if not by_model.get(Session._meta.label):
        return False
    scenario_id, main_count, helper_count = deleted
    log_event(
        Event.SCENARIO_ABANDONED,
        user_id=learner_id,
        session_id=session_id,
        scenario_id=scenario_id,
        message_count_main=main_count,
        message_count_helper=helper_count,
    )
    return True


def _create_session(learner_id, scenario: Scenario, level: str | None) -> Session:
    if level is None:
        level = levels.level_of(learner_id)
    else:
        levels.set_level(learner_id, level)
    session = Session.objects.create(user_id=learner_id, scenario=scenario, level=level)
    session.scenario = scenario
    log_event(Event.SESSION_CREATED, user_id=learner_id, session_id=session.pk)
    log_event(
        Event.SCENARIO_STARTED,
        user_id=learner_id,
        session_id=session.pk,
        scenario_id=scenario.pk,
    )
    return session
