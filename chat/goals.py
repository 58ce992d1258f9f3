"""A session's goals: which of its scenario's goals the learner has reached, and recording
those a reply marked reached (by the character's reach_goal tool, or offline by pattern).

Goals are numbered 1, 2, … in their scenario's order; the number is what the model sees."""

from dataclasses import dataclass, replace

from django.db import connection

from chat.models import ReachedGoal
from scenarios.models import Goal, pattern_matches


@dataclass(frozen=True)
class GoalState:
    number: int
    goal: Goal
    reached: bool
    just_reached: bool = False  # by the reply being stored now (announced to screen readers)


# The session's goals in order, each reached or not: one query, asked on every turn. Written
# as SQL (the ORM's join-and-Exists form cost more CPU to build than to run), with the model's
# columns in its order, as Goal.from_db() takes them. A completed session's are the goals its
# scene had then: one staff add later was not played (a newcomer's walk).
# Its texts are those it was played with (`sessions.goals_played`, scenarios 0036): staff
# rewording a goal rewrote finished scenes' history (a newcomer's walk).
_COLUMNS = [field.column for field in Goal._meta.concrete_fields]
_PLAYED_TEXT = "coalesce(s.goals_played ->> g.id::text, g.text)"
STATES = (  # the model's own column names
    "SELECT "  # noqa: S608
    + ", ".join(_PLAYED_TEXT if column == "text" else f"g.{column}" for column in _COLUMNS)
    + ", EXISTS (SELECT 1 FROM reached_goals r WHERE r.session_id = s.id AND r.goal_id = g.id)"
    " FROM scenario_goals g JOIN sessions s ON s.scenario_id = g.scenario_id"
    " WHERE s.id = %s AND (s.completed_at IS NULL OR g.created_at <= s.completed_at)"
    " AND (s.goals_played IS NULL OR s.goals_played ? g.id::text)"
    " ORDER BY g.position, g.id"
)


def goal_states(session_id) -> list[GoalState]:
    with connection.cursor() as cursor:
        cursor.execute(STATES, [session_id])
        return from_rows(cursor.fetchall())


def from_rows(rows) -> list[GoalState]:
    """Goal states from the rows of STATES."""
    return [
        GoalState(number, Goal.from_db("default", _COLUMNS, row[:-1]), row[-1])
        for number, row in enumerate(rows, 1)
    ]


def all_reached(states: list[GoalState]) -> bool:
    return bool(states) and all(state.reached for state in states)


def record_reached(session_id, goal_ids, message_id) -> list[GoalState] | None:
    """Mark the goals `goal_ids` reached by the learner's message `message_id`; the session's
    goal states after, or None when nothing new was reached (goals the scene no longer has,
    or reached already, are ignored)."""
    states = goal_states(session_id)
    new = [state for state in states if state.goal.pk in goal_ids and not state.reached]
    if not new:
        return None
    ReachedGoal.objects.bulk_create(
        [ReachedGoal(session_id=session_id, goal=s.goal, message_id=message_id) for s in new],
        ignore_conflicts=True,  # the same goal marked by two replies at once counts once
    )
    return [
        replace(state, reached=True, just_reached=True) if state in new else state
        for state in states
    ]


def reached_by_the_last_word(session_id, message) -> list[GoalState]:
    """The session's goal states after the learner's message that fills the scene: no reply
    judges it, so the goals' patterns do, as offline ("Tschüss!" at 30 left "Say goodbye"
    open, and the panel said nothing of the goals: a review of the completion panel)."""
    states = goal_states(session_id)
    reached = {
        state.goal.pk
        for state in states
        if not state.reached and pattern_matches(state.goal.offline_pattern, message.content)
    }
    return (reached and record_reached(session_id, reached, message.pk)) or states
