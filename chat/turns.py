"""One chat turn in the database: the learner's message in, the model request out, the reply
stored (or given up). Plain synchronous functions; the consumer and the replies call them
through `replies.in_db`.

A plain turn (a new message that leaves room in the scene, a reply that reaches no goal and
ends nothing) is one statement each way, sent with its role in one round trip
(`take_plain_turn()` and `store_plain_reply()`, chat migration 0008): what a round trip costs
is most of what a turn adds to the model's time to first token. Any other turn (a resend, a
refusal, a message that fills the scene, a reply that reaches a goal or ends the scene) takes
the step-by-step path, in a learner transaction: `accept_turn` 8 statements on the way to the
model and `store_reply` 4 after, plus a few when the reply reaches a goal or completes the
session. Both ways a role-play line comes back with whether the learner's deck holds it."""

import uuid
from dataclasses import dataclass, replace

from django.db import connection

from accounts.channels_auth import SocketLogin, login_digest
from chat import allowance, claims, goals, messages, prompting, tasks
from chat.call_log import log_model_event
from chat.goals import GoalState
from chat.models import Message
from chat.providers import ModelError, ReplyDone, ReplyRequest, is_offline
from chat.refusals import (
    LoginEnded,
    ReplyInFlight,
    SentWithOtherWords,
    SessionEnded,
    Throttled,
    TurnRefused,
)
from eventlog.events import Event, Level, as_metadata, log_event
from learning import deck
from lib.rls import acting_as_learner, as_learner_in_one_round_trip
from lib.throttles import Verdict
from scenarios import lifecycle
from scenarios.models import Scenario, Session

SCENE_OVER = "This scene is over: no more role-play messages."
SESSION_GONE = str(SessionEnded())


@dataclass(frozen=True)
class AcceptedTurn:
    message: Message
    created: bool  # False: a resend of a message already stored
    request: ReplyRequest | None  # None: nothing to answer now
    main_count: int  # main-chat messages once the reply is stored
    completed: bool = False  # the learner's message filled the scene: no reply comes
    week: lifecycle.WeeklyAllowance | None = None  # when the learner's message completed it
    calls_left: int | None = None  # model calls left today, after this one
    kept: bool = False  # a new role-play line the learner's deck holds already
    goals: list[GoalState] | None = None  # the session's goals, when the message completed it


@dataclass(frozen=True)
class StoredReply:
    message: Message
    main_count: int
    completed: bool
    week: lifecycle.WeeklyAllowance | None  # the learner's, when the session just completed
    goals: list[GoalState] | None = None  # the session's goals: some reached, or it completed
    kept: bool = False  # a role-play line the learner's deck holds already
    kept_phrases: frozenset = frozenset()  # the phrases of a helper answer it holds
    awaits_last_word: bool = False  # the character's goodbye: the learner's answer ends it


def accept_turn(
    learner_id,
    session: Session,
    chat: str,
    content: str,
    client_message_id: uuid.UUID,
    login: SocketLogin | None = None,
    email: str | None = None,
) -> AcceptedTurn:
    """Store the learner's message (once per client_message_id) and prepare the model request.

    A new message is stored only together with the chat's reply claim: while another reply is
    in flight in this chat, nothing is stored and ReplyInFlight is raised. The message spends
    one of the learner's messages a minute and one of the day's model calls (given back if no
    call follows). A refusal (throttled, a reply in flight, the scene over, the session gone:
    the insert's own triggers check the last two) is raised after the transaction, so the
    message stays spent and a refusal's log row stays.

    With the learner's `email` (whose daily budget the turn spends: the socket's login's), a
    plain turn is taken in one round trip; without it, or for any other turn, step by step.
    """
    if email is not None:
        plain = _take_plain_turn(
            learner_id, session, chat, content, client_message_id, login, email
        )
        if plain is not None:
            return plain
    with acting_as_learner(learner_id):
        spent = allowance.spend(learner_id, session.pk, login)
        if isinstance(spent, Throttled):
            refusal = _unless_session_gone(learner_id, session.pk, spent)
        else:
            turn = _take_turn(learner_id, session, chat, content, client_message_id, spent)
            if isinstance(turn, AcceptedTurn):
                return turn
            refusal = turn
    raise refusal  # after the transaction: what it spent stays spent


TAKE_PLAIN_TURN = (
    "SELECT * FROM take_plain_turn(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)

_SCENE_FIELDS = Scenario._meta.concrete_fields
SCENE = f"SELECT {', '.join(f.column for f in _SCENE_FIELDS)} FROM scenarios WHERE id = %s"  # noqa: S608


def _play_the_scene_as_it_is_now(session: Session, rows) -> None:
    """Each turn plays the scene as staff left it: a socket kept the scene it loaded when it
    opened, so after an edit two tabs of one session played the old and the new script in
    turn (the ops replay)."""
    if not rows:
        return
    values = [
        field.from_db_value(value, None, connection)  # JSON comes as text from a raw cursor
        if value is not None and hasattr(field, "from_db_value")
        else value
        for field, value in zip(_SCENE_FIELDS, rows[0], strict=True)
    ]
    session.scenario = Scenario.from_db("default", [f.attname for f in _SCENE_FIELDS], values)


def _take_plain_turn(
    learner_id, session, chat, content, client_message_id, login, email
) -> AcceptedTurn | None:
    """The turn in one round trip: `take_plain_turn()`, then the history and the goals, read
    after the claim in the same transaction, and whether the deck holds the line. None when it
    is not a plain turn: nothing was kept, and it is taken step by step."""
    (outcome,), rows, goal_rows, scene_rows, *kept = as_learner_in_one_round_trip(
        learner_id,
        [
            (
                TAKE_PLAIN_TURN,
                [
                    learner_id,
                    login_digest(login),
                    *allowance.buckets(learner_id, email),
                    uuid.uuid4(),
                    session.pk,
                    chat,
                    content,
                    client_message_id,
                    claims.WORKER,
                    claims.stale_after(),
                    prompting.HARD_CAP,
                    str(Event.API_CALL_STARTED),
                    as_metadata(_call(chat)),
                ],
            ),
            _history_query(session.pk),
            (goals.STATES, [session.pk]),
            (SCENE, [session.scenario_id]),
            *_kept_line_query(learner_id, chat, content),
        ],
    )
    taken, refused_by, tokens_left, retry_after, first_refusal = outcome
    if taken == "other":
        return None
    if taken == "login_ended":
        raise LoginEnded
    if taken == "throttled":
        verdict = Verdict(False, tokens_left, retry_after, first_refusal)
        with acting_as_learner(learner_id):  # its log row kept: raised after the block
            refusal = allowance.refusal(learner_id, session.pk, verdict, refused_by)
            refusal = _unless_session_gone(learner_id, session.pk, refusal)
        raise refusal
    if taken != "taken":
        raise _REFUSALS[taken]()
    read = messages.latest_from_rows(rows)
    history = read.messages
    message = next(m for m in history if m.client_message_id == client_message_id)
    _play_the_scene_as_it_is_now(session, scene_rows)
    try:
        request = _request(session, chat, read, goals.from_rows(goal_rows))
    except Exception:  # stored and claimed, but no call will follow: give the claim up
        with acting_as_learner(learner_id):
            claims.release(session.pk, chat)
        raise
    main_count = _main_count_after_reply(history, chat)
    return AcceptedTurn(
        message,
        True,
        request,
        main_count,
        calls_left=int(tokens_left),
        kept=bool(kept and deck.kept_words(kept[0])),
    )


# What a turn reads: the role-play whole and the helper chat's latest, which its request sends.
_HISTORY = {"main": None, "helper": prompting.HELPER_HISTORY_MESSAGES}


def _history_query(session_id) -> tuple[str, list]:
    return messages.latest_query(session_id, **_HISTORY)


def _kept_line_query(learner_id, chat: str, line: str) -> list[tuple[str, list]]:
    """Whether the deck holds a role-play line, as a statement for a turn's round trip (none
    for the helper chat, whose lines are not kept whole)."""
    if chat != Message.ChatType.MAIN:
        return []
    return [deck.kept_query(learner_id, [deck.as_kept(line)])]


def _kept(learner_id, chat: str, line: str) -> bool:
    return chat == Message.ChatType.MAIN and deck.holds_line(learner_id, line)


def _kept_phrases_query(learner_id, chat: str, reply: str) -> list[tuple[str, list]]:
    """Which of the phrases a helper answer offers to keep the deck holds, as a statement for
    the reply's round trip (none for a role-play line, or an answer that quotes no German)."""
    if chat != Message.ChatType.HELPER:
        return []
    phrases = [german for german, _ in deck.quoted_phrases(reply)]
    return [deck.kept_query(learner_id, phrases)] if phrases else []


def _take_turn(
    learner_id, session, chat, content, client_message_id, spent
) -> AcceptedTurn | TurnRefused:
    stored = messages.add_learner_message(session.pk, chat, content, client_message_id)
    if stored.refused:
        # Nothing stored and no model call, but the message counts against the rate: a
        # flood of them (into a reply on its way in another process, say) is refused.
        spent.give_back_call()
        return _REFUSALS[stored.refused]()
    created, claimed = stored.created, stored.claimed
    # Read after the claim: a reply stored (and its claim released) before it is in here.
    read = messages.latest(session.pk, **_HISTORY)
    history = read.messages
    message = next((m for m in history if m.client_message_id == client_message_id), None)
    if message is None:  # a resend of a helper question older than the latest read
        message = messages.by_client_id(session.pk, client_message_id)
    with connection.cursor() as cursor:
        cursor.execute(SCENE, [session.scenario_id])
        _play_the_scene_as_it_is_now(session, cursor.fetchall())
    if message.chat_type != chat:
        raise TurnRefused("That message was already sent in the other chat.")
    if message.content != content:
        raise SentWithOtherWords()
    main_count = _main_count_after_reply(history, chat)
    if created and chat == Message.ChatType.MAIN and prompting.fills_the_scene(main_count - 1):
        claims.release(session.pk, chat)  # the learner's message filled the scene
        spent.give_back_call()
        states = goals.reached_by_the_last_word(session.pk, message)
        week = lifecycle.complete_session(
            learner_id, session.pk, main_messages=main_count - 1, ended_by="cap"
        )
        if week is not None:
            tasks.request_report(session.pk)
        kept = _kept(learner_id, chat, content)
        return AcceptedTurn(
            message, created, None, main_count - 1, True, week, kept=kept, goals=states
        )
    # A resend whose reply never came (a failure, a restart) is answered now, unless a reply
    # to it is already on its way (the claim is another's) or came meanwhile.
    if not claimed or messages.answered(history, message):
        if claimed:
            claims.release(session.pk, chat)
        spent.give_back_call()
        return AcceptedTurn(message, created, None, main_count)
    request = _request(session, chat, read, goals.goal_states(session.pk))
    _log_call_started(learner_id, session.pk, chat)
    kept = created and _kept(learner_id, chat, content)
    return AcceptedTurn(
        message, created, request, main_count, calls_left=spent.calls_left, kept=kept
    )


_REFUSALS = {
    "reply_in_flight": ReplyInFlight,
    "messages_session_not_completed": lambda: TurnRefused(SCENE_OVER),
    "messages_session_exists": SessionEnded,
}


def prepare_retry(
    learner_id, session_id, chat: str, login: SocketLogin | None = None
) -> tuple[ReplyRequest, int] | None:
    """The request for a reply that failed or was interrupted: only when the chat ends with
    the learner's turn, and only for the one caller that gets the chat's claim. It spends an
    allowance like a new message (its model call given back if there is nothing to retry)."""
    with acting_as_learner(learner_id):
        spent = allowance.spend(learner_id, session_id, login)
        if isinstance(spent, Throttled):
            refusal = _unless_session_gone(learner_id, session_id, spent)
        else:
            session = lifecycle.find_session(learner_id, session_id)
            if session is None:
                raise SessionEnded
            if session.is_completed and chat == Message.ChatType.MAIN:
                raise TurnRefused(SCENE_OVER)
            # The claim first, then the history: a reply stored by the tab that had the claim
            # just before is seen, and not asked for again.
            if claims.claim(session_id, chat):
                read = messages.latest(session_id, **_HISTORY)
                if messages.awaits_reply(read.messages, chat):
                    request = _request(session, chat, read, goals.goal_states(session_id))
                    _log_call_started(learner_id, session_id, chat)
                    return request, _main_count_after_reply(read.messages, chat)
                claims.release(session_id, chat)
            spent.give_back_call()
            return None
    raise refusal  # after the transaction: what it spent stays spent


def _unless_session_gone(learner_id, session_id, refusal: Throttled) -> TurnRefused:
    """A throttled turn in a session that is gone ends its socket, as any turn there does: the
    learner was told to wait, and the next frame closed the page (the ops replay)."""
    if Session.objects.of(learner_id).filter(pk=session_id).exists():
        return refusal
    return SessionEnded()


def _log_call_started(learner_id, session_id, chat: str) -> None:
    # In the turn's own transaction: a transaction of its own beside the call cost a whole
    # round of thread, connection and role for one row.
    log_event(Event.API_CALL_STARTED, user_id=learner_id, session_id=session_id, **_call(chat))


def _request(
    session: Session, chat: str, read: messages.Latest, goal_states: list[GoalState]
) -> ReplyRequest:
    history = read.messages
    main = messages.in_chat(history, Message.ChatType.MAIN)
    first_turn = chat == Message.ChatType.MAIN and sum(m.from_learner for m in main) == 1
    return prompting.build_request(
        session.scenario,
        chat,
        history,
        level=session.level,
        goals=goal_states,
        scene_over=session.is_completed,
        # The learner's due words, for the character to bring in: asked once, at the start.
        due_words=deck.due_words(session.user_id) if first_turn else (),
        helper_earlier=(
            read.earlier.get(Message.ChatType.HELPER, 0),
            read.earlier_from_learner.get(Message.ChatType.HELPER, 0),
        ),
    )


def store_reply(
    learner_id,
    session_id,
    chat: str,
    text: str,
    done: ReplyDone,
    main_count: int,
    latency_ms: int,
    goal_ids: tuple[tuple[int, int], ...] = (),
    script: tuple[str, ...] = (),
) -> StoredReply:
    """Store a complete reply; complete the session when the scene ended or is full. `script`
    is the scene's offline script, whose closing line may leave the learner the last word.

    Raises ClaimLost (and stores nothing) if this process no longer holds the chat's claim, and
    SessionGone if the session was deleted meanwhile.
    """
    reaches_goals = chat == Message.ChatType.MAIN and done.goals_reached
    ends = chat == Message.ChatType.MAIN and (done.ended or prompting.fills_the_scene(main_count))
    awaits = (
        chat == Message.ChatType.MAIN
        and not ends
        and prompting.awaits_the_last_word(main_count, text, script)
    )
    if not (reaches_goals or ends):
        stored = _store_plain_reply(
            learner_id, session_id, chat, text, done, main_count, latency_ms
        )
        return replace(stored, awaits_last_word=awaits)
    with acting_as_learner(learner_id):
        message = messages.add_reply(session_id, chat, text)  # and gives up the claim
        log_event(
            Event.API_CALL_COMPLETED,
            user_id=learner_id,
            session_id=session_id,
            **_completed(chat, latency_ms, done),
        )
        reached = None
        if chat == Message.ChatType.MAIN and done.goals_reached:
            learner_message = messages.last_from_learner(session_id, chat)
            if learner_message is not None:
                by_number = dict(goal_ids)
                reached = goals.record_reached(
                    session_id,
                    {by_number[n] for n in done.goals_reached if n in by_number},
                    learner_message,
                )
        week = None
        if chat == Message.ChatType.MAIN and (done.ended or prompting.fills_the_scene(main_count)):
            week = lifecycle.complete_session(
                learner_id,
                session_id,
                main_messages=main_count,
                ended_by=_ended_by(done),
            )
            if week is not None:
                tasks.request_report(session_id)
                if reached is None:  # for the completion to say which are left open
                    reached = goals.goal_states(session_id)
        kept = _kept(learner_id, chat, text)
        return StoredReply(
            message,
            main_count,
            week is not None,
            week,
            reached,
            kept,
            awaits_last_word=awaits,
        )


STORE_PLAIN_REPLY = "SELECT * FROM store_plain_reply(%s, %s, %s, %s, %s, %s, %s, %s, %s)"


def _store_plain_reply(
    learner_id, session_id, chat, text, done, main_count, latency_ms
) -> StoredReply:
    """The reply in one round trip: `store_plain_reply()`, and whether the deck holds it."""
    message_id = uuid.uuid4()
    (stored,), *kept = as_learner_in_one_round_trip(
        learner_id,
        [
            (
                STORE_PLAIN_REPLY,
                [
                    message_id,
                    session_id,
                    Message.replier(chat),
                    chat,
                    text,
                    claims.WORKER,
                    learner_id,
                    str(Event.API_CALL_COMPLETED),
                    as_metadata(_completed(chat, latency_ms, done)),
                ],
            ),
            *_kept_line_query(learner_id, chat, text),
            *_kept_phrases_query(learner_id, chat, text),
        ],
    )
    message = messages.stored_reply(message_id, session_id, chat, text, *stored)
    if chat == Message.ChatType.HELPER:
        kept_phrases = frozenset(deck.kept_words(row for rows in kept for row in rows))
        return StoredReply(message, main_count, False, None, kept_phrases=kept_phrases)
    return StoredReply(
        message, main_count, False, None, kept=bool(kept and deck.kept_words(kept[0]))
    )


def _call(chat: str) -> dict:
    """Which chat a call is for, and who answers it: offline, the scripted partner's replies
    were logged as the model's, latency and all (a newcomer's walk)."""
    return {"chat": chat, "provider": "offline" if is_offline() else "anthropic"}


def _ended_by(done: ReplyDone) -> str:
    """Who closed the scene: the model, the offline partner's script (it was logged as "model":
    the last note's left item), or the cap on its length."""
    if not done.ended:
        return "cap"
    return "script" if is_offline() else "model"


def _completed(chat: str, latency_ms: int, done: ReplyDone) -> dict:
    """What api_call_completed records: timings and counts, never content."""
    return {
        **_call(chat),
        "latency_ms": latency_ms,
        "attempts": done.attempts,
        "ended": done.ended,
        **done.usage,
    }


def release_failed_reply(
    learner_id, session_id, chat: str, error: ModelError, latency_ms: int, streamed_chars: int
) -> None:
    """A reply that will not come: give up the claim and log why (never any content)."""
    if error.reason == "session_ended":
        event, level = Event.REPLY_INTERRUPTED, Level.INFO
    elif error.reason in ("server_shutdown", "claim_lost"):
        event, level = Event.REPLY_INTERRUPTED, Level.WARN
    else:
        event = Event.API_CALL_TIMEOUT if error.timeout else Event.API_CALL_FAILED
        level = Level.ERROR
    with acting_as_learner(learner_id):
        claims.release(session_id, chat)
        metadata = {"latency_ms": latency_ms, "streamed_chars": streamed_chars}
        log_model_event(event, level, learner_id, session_id, chat, error, **metadata)


def _main_count_after_reply(history: list[Message], chat: str) -> int:
    count = len(messages.in_chat(history, Message.ChatType.MAIN))
    return count + 1 if chat == Message.ChatType.MAIN else count
