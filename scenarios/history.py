"""A learner's completed sessions, newest first, one keyset page at a time.

The cursor is the last row's (completed_at, id); the next page continues strictly after it in
(completed_at DESC, id DESC) order, served by idx_sessions_history and, with a scenario filter,
idx_sessions_scenario_history. No OFFSET: every page costs the same however deep.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from django.core import signing
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from scenarios.models import Goal, Session

PAGE_SIZE = 20


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class HistoryPage:
    sessions: list[Session]
    older_cursor: str | None


def encode_cursor(session: Session) -> str:
    # Signed: the page only ever continues from a cursor it made (a crafted one, say with a
    # time zone offset PostgreSQL refuses, is a 400, never a 500).
    moment = session.completed_at.astimezone(UTC).isoformat()
    return signing.dumps([moment, str(session.pk)], salt=_CURSOR_SALT)


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        moment, session_id = signing.loads(cursor, salt=_CURSOR_SALT)
        completed_at = datetime.fromisoformat(moment)
        if completed_at.tzinfo is None:
            raise ValueError("naive timestamp")
        return completed_at.astimezone(UTC), UUID(session_id)
    except (signing.BadSignature, ValueError, TypeError) as error:
        raise BadCursor(type(error).__name__) from error


_CURSOR_SALT = "maraum.history-cursor"


def history_page(
    learner_id, *, scenario_id: int | None = None, cursor: str | None = None
) -> HistoryPage:
    """One page of completed sessions; raises BadCursor for a cursor we did not make."""
    sessions = Session.objects.of(learner_id).completed()
    if scenario_id is not None:
        sessions = sessions.filter(scenario_id=scenario_id)
    if cursor:
        completed_at, session_id = decode_cursor(cursor)
        sessions = sessions.filter(completed_at__lte=completed_at).filter(
            Q(completed_at__lt=completed_at) | Q(pk__lt=session_id)
        )
    # reached_goals and report: the chat's, through their reverse relations. The goals are
    # those the scene had when the session completed (chat.goals).
    goals_then = (
        Goal.objects.filter(
            scenario_id=OuterRef("scenario_id"), created_at__lte=OuterRef("completed_at")
        )
        .order_by()
        .values("scenario_id")
        .annotate(count=Count("pk"))
        .values("count")
    )
    sessions = sessions.annotate(
        goals_reached=Count("reached_goals"), goal_count=Coalesce(Subquery(goals_then), 0)
    ).select_related("report")
    rows = list(sessions.order_by("-completed_at", "-id")[: PAGE_SIZE + 1])
    older = encode_cursor(rows[PAGE_SIZE - 1]) if len(rows) > PAGE_SIZE else None
    return HistoryPage(rows[:PAGE_SIZE], older)
