"""Reply claims: at most one reply in flight per chat of a session, whichever process asks.

Before a model call, the process inserts a row into `reply_claims` (`claim_reply()`, in the
chat migrations); a second tab, a retry from another tab or another process finds the row and
does not call the model. The claim goes when the reply is stored or has failed. While its
replies stream, a process renews its claims every REPLY_HEARTBEAT seconds; a claim not renewed
for REPLY_STALE_AFTER seconds belongs to a process that died mid-reply, and is released (and
logged as `reply_interrupted`) by the next look at that session.

Lock order within a transaction: the session row (a message insert), then the claim, then the
profile (a completion). Every turn follows it, so turns that run side by side never deadlock.
"""

import os
import socket
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import connection

from lib.rls import acting_as_staff

# This process, for the lifetime of the process: a restarted one never inherits old claims.
WORKER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def stale_after() -> timedelta:
    return timedelta(seconds=settings.REPLY_STALE_AFTER)


def claim(session_id, chat: str) -> bool:
    """Claim the chat's next reply for this process (in the caller's learner transaction)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT claim_reply(%s, %s, %s, %s)", [session_id, chat, WORKER, stale_after()]
        )
        return cursor.fetchone()[0]


def release(session_id, chat: str) -> bool:
    """Give up this process's claim; False if it no longer held it (it was taken over)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM reply_claims WHERE session_id = %s AND chat_type = %s AND worker = %s"
            " RETURNING 1",
            [session_id, chat, WORKER],
        )
        return cursor.fetchone() is not None


def claimed_chats(session_id) -> set[str]:
    """The chats of a session with a reply in flight somewhere. A claim found stale (its
    process stopped) is released and logged as an interrupted reply on the way."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM reply_claims_in_flight(%s, %s)", [session_id, stale_after()])
        rows = cursor.fetchall()
    return {chat for chat, gone in rows if not gone}


def heartbeat(session_ids: list) -> set[tuple[str, str]]:
    """Renew this process's claims in these sessions (those of its live replies); the
    (session, chat) pairs still claimed. A live reply missing here lost its claim: its
    session was deleted (abandoned, replaced, expired) or another process took over."""
    with acting_as_staff(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE reply_claims SET heartbeat_at = now()"
            " WHERE worker = %s AND session_id = ANY(%s) RETURNING session_id, chat_type",
            [WORKER, session_ids],
        )
        return {(str(session_id), chat) for session_id, chat in cursor.fetchall()}
