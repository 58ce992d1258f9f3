"""A session's messages: the one place they are written and read.

Messages are stored only when complete and never changed (seed fix #4); the database counts
them per chat on the session and refuses role-play messages once the scene is over (the chat
migrations). Each function runs in the caller's learner transaction.
"""

import uuid
from dataclasses import dataclass

from django.db import connection

from chat import claims
from chat.models import Message
from chat.refusals import ClaimLost, SessionGone
from scenarios.models import Session


def add_openings(session: Session) -> None:
    """The scene's first lines: the character's in the role-play, the helper's beside it."""
    scenario = session.scenario
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


@dataclass(frozen=True)
class LearnerMessage:
    created: bool  # False: this client_message_id was stored before (a resend)
    claimed: bool  # this process holds the chat's reply claim now
    refused: str | None = None  # why nothing was stored, if it was refused


def add_learner_message(session_id, chat: str, content: str, client_message_id) -> LearnerMessage:
    """Store the learner's message (once per client_message_id: a resend after a reconnect is
    stored once, #46) together with the chat's reply claim for this process, in one
    statement. Refused by name: `reply_in_flight` (another reply is on its way),
    `messages_session_not_completed` or `messages_session_exists`; returned, not raised, so
    the caller's transaction goes on (and no server logs a failing statement with the
    message in it)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT * FROM add_learner_message(%s, %s, %s, %s, %s, %s, %s)",
            [
                uuid.uuid4(),
                session_id,
                chat,
                content,
                client_message_id,
                claims.WORKER,
                claims.stale_after(),
            ],
        )
        return LearnerMessage(*cursor.fetchone())


def add_reply(session_id, chat: str, text: str) -> Message:
    """The character's or the helper's complete reply, stored as this process gives up the
    chat's claim (the refusals: stored_reply())."""
    message_id = uuid.uuid4()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT * FROM add_reply(%s, %s, %s, %s, %s, %s)",
            [message_id, session_id, Message.replier(chat), chat, text, claims.WORKER],
        )
        return stored_reply(message_id, session_id, chat, text, *cursor.fetchone())


def stored_reply(
    message_id, session_id, chat: str, text: str, refused, released, user_id, sent_at
) -> Message:
    """The reply from what `add_reply()` (or `store_plain_reply()`, chat/turns.py) answered:
    SessionGone if the session was deleted while it was written, ClaimLost (and nothing
    stored) if another process took the claim over."""
    if refused:
        raise SessionGone
    if not released:
        raise ClaimLost  # add_reply(): the caller's transaction rolls the reply back
    return Message(
        id=message_id,
        session_id=session_id,
        user_id=user_id,
        role=Message.replier(chat),
        chat_type=chat,
        content=text,
        sent_at=sent_at,
    )


# Both chats' messages, oldest first (read to open a chat and for its report: plain SQL, no
# query to build), with the model's columns in its order, as Message.from_db() takes them.
_COLUMNS = [field.column for field in Message._meta.concrete_fields]
OF_SESSION = (  # the model's own column names
    f"SELECT {', '.join(_COLUMNS)} FROM messages WHERE session_id = %s ORDER BY sent_at, id"  # noqa: S608
)


def of_session(session_id) -> list[Message]:
    """Both chats' messages, oldest first."""
    with connection.cursor() as cursor:
        cursor.execute(OF_SESSION, [session_id])
        return from_rows(cursor.fetchall())


# Each chat's latest messages, with how many of its messages, and of the learner's, come
# before them: what a turn reads (the role-play whole and the helper's latest) and what a
# chat page or a tab's sync shows. A completed scene's helper takes questions without end,
# and each turn and each sync read its whole chat: 2,000 messages took 23-96 ms to read (the
# last note's item). Their order is counted without their texts, then the latest are read
# (half the time of sorting them with their texts).
LATEST = f"""
SELECT {", ".join(f"m.{column}" for column in _COLUMNS)}, latest.earlier, latest.earlier_asked
FROM (
  SELECT id, chat_type, row_number() OVER oldest_first - 1 AS earlier,
         count(*) FILTER (WHERE role = 'user') OVER (
           oldest_first ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS earlier_asked,
         count(*) OVER (PARTITION BY chat_type) - row_number() OVER oldest_first AS later
  FROM messages WHERE session_id = %s
  WINDOW oldest_first AS (PARTITION BY chat_type ORDER BY sent_at, id)
) AS latest JOIN messages AS m ON m.id = latest.id
WHERE latest.later < coalesce(CASE latest.chat_type WHEN 'main' THEN %s::bigint ELSE %s::bigint END,
                              latest.later + 1)
ORDER BY m.sent_at, m.id
"""  # noqa: S608


@dataclass(frozen=True)
class Latest:
    messages: list[Message]  # each chat's latest, oldest first
    earlier: dict[str, int]  # by chat: its messages before those
    earlier_from_learner: dict[str, int]  # ...of them the learner's


def latest_query(session_id, *, main: int | None, helper: int | None) -> tuple[str, list]:
    """LATEST with at most `main` role-play and `helper` helper messages (None: all), as a
    statement."""
    return LATEST, [session_id, main, helper]


def latest(session_id, *, main: int | None, helper: int | None) -> Latest:
    with connection.cursor() as cursor:
        cursor.execute(*latest_query(session_id, main=main, helper=helper))
        return latest_from_rows(cursor.fetchall())


def latest_from_rows(rows) -> Latest:
    """A Latest from the rows of LATEST: a chat's counts are on its oldest row read."""
    found = Latest([], {}, {})
    for row in rows:
        message = Message.from_db("default", _COLUMNS, row[:-2])
        found.messages.append(message)
        if message.chat_type not in found.earlier:
            found.earlier[message.chat_type] = row[-2]
            found.earlier_from_learner[message.chat_type] = row[-1]
    return found


def by_client_id(session_id, client_message_id) -> Message | None:
    return Message.objects.filter(
        session_id=session_id, client_message_id=client_message_id
    ).first()


def page_before(session_id, chat: str, message_id, limit: int) -> tuple[list[Message], int] | None:
    """Up to `limit` of the chat's messages just before one of its messages, oldest first, and
    how many come before those; None if the chat has no such message. Read by keyset on the
    transcript's index (seed #21), so a page costs the same wherever it is in a long chat."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sent_at FROM messages WHERE id = %s AND session_id = %s AND chat_type = %s",
            [message_id, session_id, chat],
        )
        mark = cursor.fetchone()
        if mark is None:
            return None
        cursor.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM messages"  # noqa: S608
            " WHERE session_id = %s AND chat_type = %s AND (sent_at, id) < (%s, %s)"
            " ORDER BY sent_at DESC, id DESC LIMIT %s",
            [session_id, chat, mark[0], message_id, limit],
        )
        page = from_rows(reversed(cursor.fetchall()))
        if not page:
            return [], 0
        cursor.execute(
            "SELECT count(*) FROM messages"
            " WHERE session_id = %s AND chat_type = %s AND (sent_at, id) < (%s, %s)",
            [session_id, chat, page[0].sent_at, page[0].id],
        )
        return page, cursor.fetchone()[0]


def one_in_chat(session_id, chat: str, message_id) -> Message | None:
    """One message of the session's chat, or None."""
    return Message.objects.filter(pk=message_id, session_id=session_id, chat_type=chat).first()


def from_rows(rows) -> list[Message]:
    """Messages from the rows of OF_SESSION."""
    return [Message.from_db("default", _COLUMNS, row) for row in rows]


def last_from_learner(session_id, chat: str):
    """The id of the learner's newest message in `chat`, or None."""
    return (
        Message.objects.filter(session_id=session_id, chat_type=chat, role=Message.Role.USER)
        .order_by("-sent_at", "-id")
        .values_list("id", flat=True)
        .first()
    )


def in_chat(messages: list[Message], chat: str) -> list[Message]:
    return [m for m in messages if m.chat_type == chat]


def answered(messages: list[Message], message: Message) -> bool:
    """Whether a reply follows the learner's `message` in its chat."""
    return any(
        m.chat_type == message.chat_type and not m.from_learner and _after(m, message)
        for m in messages
    )


def awaits_reply(messages: list[Message], chat: str) -> bool:
    """The chat ends with the learner's turn: a reply failed, or was never asked for."""
    last = in_chat(messages, chat)[-1:]
    return bool(last) and last[0].from_learner


def _after(message: Message, other: Message) -> bool:
    return (message.sent_at, str(message.id)) > (other.sent_at, str(other.id))
