"""Streaming a reply to every tab of a session, independently of any one websocket.

A reply runs as its own asyncio task: a learner who disconnects mid-reply still gets it stored,
and sees it on reconnecting. Text goes to the session's channel-layer group in frames: the first
token at once, the rest coalesced to at most one frame per CHAT_FRAME_INTERVAL.
"""

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from chat import frames
from chat.model import ModelError, ReplyDone, ReplyRequest, get_provider
from chat.turns import log_call_started, log_reply_failed, log_retry, store_reply

logger = logging.getLogger(__name__)


@dataclass
class LiveReply:
    """A reply being streamed by this process."""

    session_id: str
    chat: str
    trigger_id: str | None  # the client_message_id of the learner message it answers
    reply_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    text: str = ""
    task: asyncio.Task | None = None


_live: dict[tuple[str, str], LiveReply] = {}


async def in_db(function, *args):
    """Run a database function on a pool thread. Channels' default runs every call on one
    shared thread, so one learner's turn would queue behind everyone else's."""
    return await database_sync_to_async(function, thread_sensitive=False)(*args)


def group_name(session_id) -> str:
    return f"session-{session_id}"


def live_reply(session_id, chat: str) -> LiveReply | None:
    return _live.get((str(session_id), chat))


def live_replies(session_id) -> list[LiveReply]:
    return [reply for (sid, _), reply in _live.items() if sid == str(session_id)]


def start_reply(
    learner_id,
    session_id,
    chat: str,
    request: ReplyRequest,
    main_count: int,
    trigger_id: str | None,
) -> LiveReply:
    reply = LiveReply(str(session_id), chat, trigger_id)
    _live[(reply.session_id, chat)] = reply
    reply.task = asyncio.create_task(_run(reply, learner_id, request, main_count))
    return reply


async def send_frame(session_id, html: str) -> None:
    await get_channel_layer().group_send(
        group_name(session_id), {"type": "chat.frame", "html": html}
    )


async def _run(reply: LiveReply, learner_id, request: ReplyRequest, main_count: int) -> None:
    started = time.monotonic()
    shown = asyncio.Event()  # the reply's bubble is on the page: text may follow
    streaming = asyncio.create_task(_stream(reply, learner_id, request, shown))
    await asyncio.sleep(0)  # the model request goes out first; the rest waits on the model
    call_logged = asyncio.create_task(
        in_db(log_call_started, learner_id, reply.session_id, reply.chat)
    )
    try:
        await send_frame(reply.session_id, frames.reply_started(reply))
        shown.set()
        done = await streaming
        await call_logged
        text = reply.text.strip()
        if not text:
            if not done.ended:
                raise ModelError("empty_reply")
            text = "Tschüss!" if reply.chat == "main" else "…"
        stored = await in_db(
            store_reply,
            learner_id,
            reply.session_id,
            reply.chat,
            text,
            done,
            main_count,
            round((time.monotonic() - started) * 1000),
        )
        await send_frame(reply.session_id, frames.reply_finished(reply, stored))
    except ModelError as error:
        await asyncio.gather(call_logged, streaming, return_exceptions=True)
        await _fail(reply, learner_id, error, started)
    except Exception as error:  # never leave the page waiting
        # The type only: a database error's text can quote the failing row, i.e. the message.
        logger.error(
            "reply %s for session %s failed: %s",
            reply.reply_id,
            reply.session_id,
            type(error).__name__,
        )
        streaming.cancel()
        await asyncio.gather(call_logged, streaming, return_exceptions=True)
        await _fail(reply, learner_id, ModelError("internal_error"), started)
    finally:
        _live.pop((reply.session_id, reply.chat), None)


async def _fail(reply: LiveReply, learner_id, error: ModelError, started: float) -> None:
    # The partial text is discarded: nothing is stored, the learner gets a retry button.
    await in_db(
        log_reply_failed,
        learner_id,
        reply.session_id,
        reply.chat,
        error,
        round((time.monotonic() - started) * 1000),
        len(reply.text),
    )
    await send_frame(reply.session_id, frames.reply_failed(reply, error))


async def _stream(
    reply: LiveReply, learner_id, request: ReplyRequest, shown: asyncio.Event
) -> ReplyDone:
    """Read the model's tokens into `reply.text` while a sender sends them out: the first at
    once, then what has gathered every CHAT_FRAME_INTERVAL. Per token there is only a string
    append; frames go out from the one sender, so they stay in order on any channel layer."""

    async def on_retry(attempt: int, delay: float, error: ModelError) -> None:
        await in_db(log_retry, learner_id, reply.session_id, reply.chat, attempt, delay, error)

    pending: list[str] = []
    first_token = asyncio.Event()
    finished = False

    async def send_pending() -> None:
        if pending:
            text = "".join(pending)
            pending.clear()
            await send_frame(reply.session_id, frames.reply_delta(reply, text))

    async def sender() -> None:
        await shown.wait()
        await first_token.wait()
        while True:
            await send_pending()
            if finished:
                return
            await asyncio.sleep(settings.CHAT_FRAME_INTERVAL)

    sending = asyncio.create_task(sender())
    try:
        async for item in get_provider().stream(request, on_retry):
            if isinstance(item, ReplyDone):
                finished = True
                first_token.set()  # a reply with no text still lets the sender finish
                await sending
                return item
            reply.text += item
            pending.append(item)
            first_token.set()
        raise ModelError("stream_ended_early")
    except ModelError:
        raise
    except Exception as error:  # an unexpected failure of the provider ends the reply
        raise ModelError(type(error).__name__) from error
    finally:
        if not sending.done():
            sending.cancel()
