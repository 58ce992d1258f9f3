"""The log rows of a turn or a reply (a call started, a retry, a failure, a completion):
written as the learner, with a model error's reason and status, never any content."""

from django.db import connection

from chat.providers import ModelError
from eventlog.events import Event, Level, log_event
from lib.rls import acting_as_learner


def log_chat_event(
    learner_id,
    session_id,
    chat: str,
    event: Event,
    *,
    failure: ModelError | None = None,
    level: Level | None = None,
    **metadata,
) -> None:
    """An event of a turn or a reply (a call started, a retry, a failure), as the learner;
    a model error's reason and status go with it, never any content."""
    level = level or (Level.WARN if failure else Level.INFO)
    with acting_as_learner(learner_id):
        log_model_event(event, level, learner_id, session_id, chat, failure, **metadata)


def log_model_event(
    event, level, learner_id, session_id, chat, failure: ModelError | None, **metadata
):
    if failure is not None:
        metadata.update(reason=failure.reason, status=failure.status)
    log_event(event, level=level, user_id=learner_id, session_id=session_id, chat=chat, **metadata)


def last_failure(session_id, chat: str, since) -> ModelError | None:
    """Why the chat's last reply did not come, as it was logged after `since` (the learner's
    message it answers), for the pages opened after: None if nothing was logged. In the
    caller's learner transaction (`last_reply_failure()`, chat migration 0009)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM last_reply_failure(%s, %s, %s)", [session_id, chat, since])
        row = cursor.fetchone()
    if row is None:
        return None
    event, reason = row
    return ModelError(reason or "", timeout=event == Event.API_CALL_TIMEOUT)
