"""One chat turn in the database: the learner's message in, the model request out, the reply
stored. Plain synchronous functions; the consumer calls them through database_sync_to_async.

Per turn the database sees a fixed number of queries, whatever the session's length:
`accept_turn` 3 on the way to the model (role, insert, history), `log_call_started` 2 beside
the model call (role, api_call_started) and `store_reply` 3 (role, insert,
api_call_completed), plus 3 when the reply completes the session (update, profile,
scenario_completed).
"""

import uuid
from dataclasses import dataclass

from django.db import DatabaseError, connection

from accounts.models import Profile
from accounts.rls import acting_as_learner
from chat.model import END_TOOL, ModelError, ReplyDone, ReplyRequest
from chat.models import Message
from chat.prompts import HELPER, load_prompt
from eventlog.events import log_event
from eventlog.models import Event, Level
from scenarios.models import Session

SOFT_CAP = 15  # main-chat messages after which the character steers towards an ending
CONCLUDE_AT = 25  # ...after which it closes the scene
HARD_CAP = 30  # the session completes at this many main-chat messages, whatever happens
WEEKLY_LIMIT = 3
HELPER_CONTEXT_MESSAGES = 12  # recent role-play messages shown to the helper
CACHED = {"type": "ephemeral"}

STEERING = {
    "soft": (
        "[Note from the app, not from the learner: the conversation has gone on for a while. "
        "Start steering towards a natural ending over the next few turns. Stay in role.]"
    ),
    "conclude": (
        "[Note from the app: bring the scene to its close now: wrap up, say goodbye in role, "
        f"and call the {END_TOOL['name']} tool.]"
    ),
    "final": (
        "[Note from the app: this is your last reply. Say a warm goodbye in one or two "
        f"sentences and call the {END_TOOL['name']} tool.]"
    ),
}


class TurnRefused(Exception):
    """The turn cannot be taken; the message is for the learner."""


@dataclass(frozen=True)
class AcceptedTurn:
    message: Message
    created: bool  # False: a resend of a message already stored
    request: ReplyRequest | None  # None: nothing to answer (the reply already exists)
    main_count: int  # main-chat messages once the reply is stored


@dataclass(frozen=True)
class StoredReply:
    message: Message
    main_count: int
    completed: bool
    completions_left: int | None  # this week, when the session just completed


def find_session(session_id) -> Session | None:
    """The session, if the current learner may see it (row-level security hides the rest)."""
    return Session.objects.select_related("scenario").filter(pk=session_id).first()


def messages_of(session_id) -> list[Message]:
    return list(Message.objects.filter(session_id=session_id).order_by("sent_at", "id"))


def session_for(learner_id, session_id) -> Session | None:
    with acting_as_learner(learner_id):
        return find_session(session_id)


def transcript(learner_id, session_id) -> list[Message]:
    with acting_as_learner(learner_id):
        return messages_of(session_id)


def accept_turn(
    learner_id, session: Session, chat: str, content: str, client_message_id
) -> AcceptedTurn:
    """Store the learner's message (once per client_message_id) and prepare the model request.

    `session` is the one the consumer loaded on connect; whether it is still open is checked by
    the insert's own triggers, which saves a query on the path to the first token.
    """
    try:
        with acting_as_learner(learner_id):
            created = _insert_learner_message(session, chat, content, client_message_id)
            history = messages_of(session.pk)
    except DatabaseError as refused:  # the session was completed, abandoned or is not theirs
        raise TurnRefused(_refusal(refused)) from refused
    message = next(m for m in history if str(m.client_message_id) == str(client_message_id))
    answered = any(m.chat_type == chat and m.role != "user" and _after(m, message) for m in history)
    request = None if answered else _request(session, chat, history)
    return AcceptedTurn(message, created, request, _main_count(history, chat))


def prepare_retry(learner_id, session_id, chat: str) -> tuple[ReplyRequest, int] | None:
    """The request for a reply that failed: only when the chat ends with the learner's turn."""
    with acting_as_learner(learner_id):
        session = _open_session(session_id)
        history = messages_of(session_id)
        in_chat = [m for m in history if m.chat_type == chat]
        if not in_chat or in_chat[-1].role != "user":
            return None
        return _request(session, chat, history), _main_count(history, chat)


def store_reply(
    learner_id, session_id, chat: str, text: str, done: ReplyDone, main_count: int, latency_ms: int
) -> StoredReply:
    """Store a complete reply; complete the session when the scene ended or hit the hard cap."""
    role = "scenario" if chat == "main" else "helper"
    with acting_as_learner(learner_id):
        message = Message.objects.create(
            session_id=session_id, role=role, chat_type=chat, content=text
        )
        log_event(
            Event.API_CALL_COMPLETED,
            user_id=learner_id,
            session_id=session_id,
            chat=chat,
            latency_ms=latency_ms,
            attempts=done.attempts,
            ended=done.ended,
            **done.usage,
        )
        completed, left = False, None
        if chat == "main" and (done.ended or main_count >= HARD_CAP):
            completed = bool(
                Session.objects.filter(pk=session_id, is_completed=False).update(is_completed=True)
            )
            if completed:
                profile = Profile.objects.get(pk=learner_id)
                left = max(WEEKLY_LIMIT - profile.current_week_completion_count, 0)
                log_event(
                    Event.SCENARIO_COMPLETED,
                    user_id=learner_id,
                    session_id=session_id,
                    main_messages=main_count,
                    ended_by="model" if done.ended else "cap",
                )
        return StoredReply(message, main_count, completed, left)


def log_reply_failed(
    learner_id, session_id, chat: str, error: ModelError, latency_ms: int, streamed_chars: int
) -> None:
    event = Event.API_CALL_TIMEOUT if error.timeout else Event.API_CALL_FAILED
    with acting_as_learner(learner_id):
        log_event(
            event,
            level=Level.ERROR,
            user_id=learner_id,
            session_id=session_id,
            chat=chat,
            reason=error.reason,
            status=error.status,
            latency_ms=latency_ms,
            streamed_chars=streamed_chars,
        )


def log_retry(
    learner_id, session_id, chat: str, attempt: int, delay: float, error: ModelError
) -> None:
    with acting_as_learner(learner_id):
        log_event(
            Event.API_RETRY_ATTEMPTED,
            level=Level.WARN,
            user_id=learner_id,
            session_id=session_id,
            chat=chat,
            attempt=attempt,
            delay_s=round(delay, 3),
            reason=error.reason,
            status=error.status,
        )


def _open_session(session_id) -> Session:
    session = find_session(session_id)
    if session is None:
        raise TurnRefused("This session does not exist.")
    if session.is_completed:
        raise TurnRefused("This scene is over: no more messages.")
    return session


def _insert_learner_message(session, chat, content, client_message_id) -> bool:
    """True if stored now, False if this client_message_id was stored before (a resend)."""
    # ON CONFLICT on the idempotency index: a resend after a reconnect is stored once (#46).
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO messages (id, session_id, role, chat_type, content, client_message_id)"
            " VALUES (%s, %s, 'user', %s, %s, %s)"
            " ON CONFLICT (session_id, client_message_id) WHERE client_message_id IS NOT NULL"
            " DO NOTHING RETURNING id",
            [uuid.uuid4(), session.pk, chat, content, client_message_id],
        )
        return cursor.fetchone() is not None


def _after(message: Message, other: Message) -> bool:
    return (message.sent_at, str(message.id)) > (other.sent_at, str(other.id))


def _main_count(history: list[Message], chat: str) -> int:
    count = sum(1 for m in history if m.chat_type == "main")
    return count + 1 if chat == "main" else count  # the reply to come


def log_call_started(learner_id, session_id, chat: str) -> None:
    with acting_as_learner(learner_id):
        log_event(Event.API_CALL_STARTED, user_id=learner_id, session_id=session_id, chat=chat)


def _refusal(error: Exception) -> str:
    if "is completed" in str(error):
        return "This scene is over: no more messages."
    return "This session is no longer available."


def _request(session: Session, chat: str, history: list[Message]) -> ReplyRequest:
    scenario = session.scenario
    if chat == "main":
        main = [m for m in history if m.chat_type == "main"]
        count = len(main)  # the learner's message included
        final = count >= HARD_CAP - 1
        system = [{"type": "text", "text": load_prompt(scenario.code), "cache_control": CACHED}]
        stage = (
            "final"
            if final
            else "conclude"
            if count >= CONCLUDE_AT
            else ("soft" if count >= SOFT_CAP else None)
        )
        if stage:
            system.append({"type": "text", "text": STEERING[stage]})
        return ReplyRequest(
            kind="character",
            scenario_code=scenario.code,
            system=system,
            messages=_cache_prefix(_as_turns(main, "(The learner walks up.)"), -1),
            turn=sum(1 for m in main if m.role == "user"),
            final=final,
            tools=[END_TOOL],
        )
    helper = [m for m in history if m.chat_type == "helper"]
    roleplay = [m for m in history if m.chat_type == "main"][-HELPER_CONTEXT_MESSAGES:]
    context = "\n".join(
        f"{'Learner' if m.role == 'user' else 'Character'}: {m.content}" for m in roleplay
    )
    system = [
        {"type": "text", "text": load_prompt(HELPER), "cache_control": CACHED},
        {"type": "text", "text": f"Scenario: {scenario.emoji} {scenario.title}."},
    ]
    # The role-play so far rides with the newest question only, so the earlier turns stay a
    # stable prefix, cached up to the helper's last answer.
    messages = _cache_prefix(_as_turns(helper, "(The learner opens the helper chat.)"), -2)
    messages[-1]["content"].insert(
        0, {"type": "text", "text": f"<roleplay_so_far>\n{context}\n</roleplay_so_far>"}
    )
    return ReplyRequest(
        kind="helper",
        scenario_code=scenario.code,
        system=system,
        messages=messages,
        turn=sum(1 for m in helper if m.role == "user"),
    )


def _as_turns(messages: list[Message], opening: str) -> list[dict]:
    """Messages as alternating user/assistant turns, starting with the user."""
    turns: list[dict] = []
    for message in messages:
        role = "user" if message.role == "user" else "assistant"
        if turns and turns[-1]["role"] == role:  # e.g. a second try after a failed reply
            turns[-1]["content"].append({"type": "text", "text": message.content})
        else:
            turns.append({"role": role, "content": [{"type": "text", "text": message.content}]})
    if not turns or turns[0]["role"] != "user":
        turns.insert(0, {"role": "user", "content": [{"type": "text", "text": opening}]})
    return turns


def _cache_prefix(turns: list[dict], index: int) -> list[dict]:
    """Mark turns[index] as the end of the prefix the API may cache (earlier turns, #prompt
    caching), so a long session does not pay full price for its history every turn."""
    if len(turns) >= abs(index):
        turns[index]["content"][-1]["cache_control"] = CACHED
    return turns
