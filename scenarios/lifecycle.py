"""A learner's sessions from start to finish: the one place the views, the chat consumer and
the admin go through to start, find, restore and abandon a session.

Every function acts as the given learner (row-level security) inside its own transaction or
savepoint, so it can be called from a request (already in one) or from the chat consumer.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import Profile
from accounts.rls import acting_as_learner
from chat.models import Message
from eventlog.events import log_event
from eventlog.models import Event
from scenarios.models import Scenario, Session

WEEKLY_COMPLETION_LIMIT = 3  # decision 18: three completed conversations a week


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
    limit: int
    resets_at: datetime

    @property
    def left(self) -> int:
        return max(self.limit - self.completed, 0)

    @property
    def reached(self) -> bool:
        return self.completed >= self.limit


def next_week_start(moment: datetime) -> datetime:
    """The Monday 00:00 UTC after `moment` (the database's `next_week_start()`, seed #2)."""
    day = moment.astimezone(UTC).date()
    monday = day - timedelta(days=day.weekday()) + timedelta(days=7)
    return datetime(monday.year, monday.month, monday.day, tzinfo=UTC)


def weekly_allowance(profile: Profile, *, now: datetime | None = None) -> WeeklyAllowance:
    """What the picker shows; an overdue week counts as a fresh one (reset lazily at start)."""
    now = now or timezone.now()
    if profile.week_reset_date <= now:
        return WeeklyAllowance(0, WEEKLY_COMPLETION_LIMIT, next_week_start(now))
    return WeeklyAllowance(
        profile.current_week_completion_count, WEEKLY_COMPLETION_LIMIT, profile.week_reset_date
    )


def active_session(learner_id: UUID | str) -> Session | None:
    """The learner's one incomplete session, with its scenario, or None."""
    with acting_as_learner(learner_id):
        return (
            Session.objects.select_related("scenario")
            .filter(user_id=learner_id, is_completed=False)
            .first()
        )


def start_session(
    learner_id: UUID | str, scenario: Scenario, *, replace_active: bool = False
) -> Session:
    """Start `scenario` for the learner, with its two opening messages, in one transaction.

    Raises WeeklyLimitReached when this week's completions are used up, and
    ActiveSessionExists when another session is active and `replace_active` is false (with
    it, the active session is abandoned first). Refusals are logged and nothing is created.
    """
    with acting_as_learner(learner_id):
        refusal = _refusal_to_start(learner_id, scenario, replace_active)
        if refusal is None:
            try:
                with transaction.atomic():
                    return _create_session(learner_id, scenario)
            except IntegrityError as error:
                # The unique index on active sessions is the last line of defence.
                if "idx_sessions_one_active_per_user" not in str(error):
                    raise
                refusal = ActiveSessionExists(_active_session_row(learner_id))
    # Raised outside the savepoint, so the refusal's log rows are kept.
    raise refusal


def restore_session(learner_id: UUID | str, session_id: UUID | str) -> Session:
    """The learner comes back to their active session; Session.DoesNotExist if it is not one."""
    with acting_as_learner(learner_id):
        session = Session.objects.select_related("scenario").get(
            pk=session_id, user_id=learner_id, is_completed=False
        )
        log_event(Event.SESSION_RESTORED, user_id=learner_id, session_id=session.pk)
        return session


def abandon_session(learner_id: UUID | str, session_id: UUID | str) -> bool:
    """Delete the learner's active session (messages go with it); False if there was none."""
    with acting_as_learner(learner_id):
        return _abandon(learner_id, session_id)


def _lock_profile_and_check_week(learner_id: UUID | str) -> WeeklyAllowance:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM begin_scenario_start()")
        completed, resets_at, was_reset = cursor.fetchone()
    if was_reset:
        log_event(Event.WEEKLY_LIMIT_RESET, user_id=learner_id)
    log_event(
        Event.RATE_LIMIT_CHECKED,
        user_id=learner_id,
        completions_this_week=completed,
        limit=WEEKLY_COMPLETION_LIMIT,
    )
    return WeeklyAllowance(completed, WEEKLY_COMPLETION_LIMIT, resets_at)


def _refusal_to_start(
    learner_id, scenario: Scenario, replace_active: bool
) -> WeeklyLimitReached | ActiveSessionExists | None:
    allowance = _lock_profile_and_check_week(learner_id)
    if allowance.reached:
        log_event(
            Event.RATE_LIMIT_EXCEEDED,
            user_id=learner_id,
            completions_this_week=allowance.completed,
            limit=allowance.limit,
            scenario_id=scenario.pk,
        )
        return WeeklyLimitReached(allowance.resets_at)
    current = _active_session_row(learner_id)
    if current is None:
        return None
    if not replace_active:
        return ActiveSessionExists(current)
    _abandon(learner_id, current.pk)
    return None


def _active_session_row(learner_id) -> Session | None:
    return (
        Session.objects.select_related("scenario")
        .filter(user_id=learner_id, is_completed=False)
        .first()
    )


def _abandon(learner_id, session_id) -> bool:
    deleted = (
        Session.objects.filter(pk=session_id, user_id=learner_id, is_completed=False)
        .values_list("scenario_id", "message_count_main", "message_count_helper")
        .first()
    )
    if deleted is None:
        return False
    Session.objects.filter(pk=session_id, is_completed=False).delete()
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


def _create_session(learner_id, scenario: Scenario) -> Session:
    session = Session.objects.create(user_id=learner_id, scenario=scenario)
    session.scenario = scenario
    Message.objects.bulk_create(
        [
            Message(
                session=session,
                role=Message.Role.SCENARIO,
                chat_type=Message.ChatType.MAIN,
                content=scenario.initial_message_main,
            ),
            Message(
                session=session,
                role=Message.Role.HELPER,
                chat_type=Message.ChatType.HELPER,
                content=scenario.initial_message_helper,
            ),
        ]
    )
    log_event(Event.SESSION_CREATED, user_id=learner_id, session_id=session.pk)
    log_event(
        Event.SCENARIO_STARTED,
        user_id=learner_id,
        session_id=session.pk,
        scenario_id=scenario.pk,
    )
    return session
