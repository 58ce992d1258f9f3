"""The log rows of a turn or a reply (a call started, a retry, a failure, a completion):
written as the learner, with a model error's reason and status, never any content."""

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
