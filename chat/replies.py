"""Streaming a reply to every tab of a session, independently of any one websocket.

A reply runs as its own asyncio task: a learner who disconnects mid-reply still gets it stored,
and sees it on reconnecting. It owns its chat's reply claim (chat.claims) from before the model
call until it is stored or has failed. Text goes to the session's tabs from one sender per
reply (through chat.fanout, to every tab in any process), so frames stay in order:
the bubble first, then the text as deltas with offsets, the first token at once and the rest
at most once a CHAT_FRAME_INTERVAL (less often while the process is loaded), sent by the
process's one frame clock.

On SIGTERM the server calls `drain()`: no new turns, replies in flight get a grace period to
finish, and the rest end as interrupted (claim released, logged, "Try again" shown).
"""

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from channels.db import database_sync_to_async
from django.conf import settings

from chat import claims, fanout, frames
from chat.call_log import log_chat_event
from chat.models import MAX_CONTENT_LENGTH, Message
from chat.providers import ModelError, ReplyDone, ReplyRequest, get_provider
from chat.refusals import ClaimLost, SessionGone
from chat.turns import release_failed_reply, store_reply
from eventlog.events import Event
from lib.text import UNSENDABLE, shows_something

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class LiveReply:
    """A reply being streamed by this process."""

    session_id: str
    chat: str
    character: str  # the character's name, for the finished message
    answers: uuid.UUID | None = None  # the client_message_id of the learner message it answers
    answers_words: str = ""  # and that message's words
    reply_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    text: str = ""
    cut: bool = False  # the model said more than a message holds: the rest was dropped
    attempt: int = 1  # which of the model's MODEL_RETRY_ATTEMPTS is on its way
    sent: int = 0  # how much of `text` its tabs have been sent
    arrivals: int = 0  # chat.fanout.arrivals() when they were last sent the text so far
    finished: bool = False
    # why it was cancelled: "server_shutdown", "session_ended" or "claim_lost" (found gone)
    ended_because: str = ""
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    opened: asyncio.Event = field(default_factory=asyncio.Event)  # its first frame is out
    task: asyncio.Task | None = None


_live: dict[str, dict[str, LiveReply]] = {}  # by session, then chat
_turns_being_taken: dict[asyncio.Future, str] = {}  # each turn's end, and its session's id
_heartbeat: asyncio.Task | None = None
accepting = True  # False once the server is draining for a restart


_database_threads: ThreadPoolExecutor | None = None


async def in_db(function, *args, **kwargs):
    """Run a database function on one of the process's DATABASE_THREADS threads. Channels'
    default runs every call on one shared thread, so one learner's turn would queue behind
    everyone else's; the event loop's own executor has too few threads on a small machine."""
    global _database_threads
    if _database_threads is None:
        _database_threads = ThreadPoolExecutor(settings.DATABASE_THREADS, "database")
    run = database_sync_to_async(function, thread_sensitive=False, executor=_database_threads)
    return await run(*args, **kwargs)


def group_name(session_id) -> str:
    return f"session-{session_id}"


def live_in(session_id) -> dict[str, LiveReply]:
    """This process's replies in flight for a session, by chat."""
    return dict(_live.get(str(session_id), {}))


def all_live() -> list[LiveReply]:
    """This process's replies in flight."""
    return [reply for by_chat in list(_live.values()) for reply in by_chat.values()]


def start_reply(
    learner_id,
    session_id,
    chat: str,
    request: ReplyRequest,
    main_count: int,
    character: str,
    answers: Message | None = None,
    first_frame: Callable[[], str] | None = None,
) -> LiveReply:
    """Stream the reply the caller holds the claim for. `first_frame` (the learner's message,
    say) is drawn and sent once the model request is on its way, before the reply's bubble."""
    reply = LiveReply(str(session_id), chat, character)
    if answers:
        reply.answers, reply.answers_words = answers.client_message_id, answers.content
    _live.setdefault(reply.session_id, {})[chat] = reply
    reply.task = asyncio.create_task(_run(reply, learner_id, request, main_count, first_frame))
    _keep_claims_alive()
    return reply


async def send_frame(session_id, html: str) -> None:
    await fanout.publish(session_id, html)


@contextlib.contextmanager
def taking_turn(session_id):
    """Around a turn from the learner's frame to its reply's start: drain() waits for it, so
    a message stored just as the server starts draining is still answered (before, its reply
    never started, and its claim and model call stayed taken)."""
    done = asyncio.get_running_loop().create_future()
    _turns_being_taken[done] = str(session_id)
    try:
        yield
    finally:
        _turns_being_taken.pop(done, None)
        done.set_result(None)


def busy_in(session_id) -> bool:
    """Whether this process has a reply in flight for the session, or a turn on its way to one."""
    return bool(_live.get(str(session_id))) or str(session_id) in _turns_being_taken.values()


async def drain(grace: float) -> int:
    """Stop taking turns and give the replies in flight `grace` seconds to finish (the turns
    being taken first start theirs); the rest are interrupted. Returns how many were
    interrupted."""
    global accepting
    accepting = False
    deadline = time.monotonic() + grace
    if _turns_being_taken:
        await asyncio.wait(list(_turns_being_taken), timeout=grace)
    tasks = [reply.task for reply in all_live() if reply.task]
    if not tasks:
        return 0
    _, pending = await asyncio.wait(tasks, timeout=max(0.0, deadline - time.monotonic()))
    for reply in all_live():
        if reply.task in pending:
            _end(reply, "server_shutdown")
    await asyncio.gather(*pending, return_exceptions=True)
    return len(pending)


def end_session_replies(session_id) -> None:
    """The session is gone (abandoned, replaced, expired): stop paying for its replies."""
    for reply in live_in(session_id).values():
        _end(reply, "session_ended")


def _end(reply: LiveReply, because: str) -> None:
    if reply.task and not reply.task.done():
        reply.ended_because = because
        reply.task.cancel()


async def _run(
    reply: LiveReply,
    learner_id,
    request: ReplyRequest,
    main_count: int,
    first_frame: Callable[[], str] | None = None,
) -> None:
    started = time.monotonic()
    # Started first, it runs as soon as _stream has sent the request.
    sending = asyncio.create_task(_send_text(reply, first_frame))
    try:
        try:
            done = await _stream(reply, learner_id, request)
        finally:
            reply.finished = True
            reply.changed.set()
        await sending
        text = storable(reply.text, reply.cut)
        if not text:
            if not done.ended:
                raise ModelError("empty_reply")
            text = "Tschüss!" if reply.chat == Message.ChatType.MAIN else "…"
        stored = await in_db(
            store_reply,
            learner_id,
            reply.session_id,
            reply.chat,
            text,
            done,
            main_count,
            round((time.monotonic() - started) * 1000),
            request.goal_ids,
            request.script,
        )
        await send_frame(reply.session_id, frames.reply_finished(reply, stored, reply.character))
    except asyncio.CancelledError:  # the server is shutting down, or the session is gone
        await _stop(reply, sending)
        reason = reply.ended_because or "server_shutdown"
        await _fail(reply, learner_id, ModelError(reason), started)
    except SessionGone:
        await _stop(reply, sending)
        await _fail(reply, learner_id, ModelError("session_ended"), started)
    except ClaimLost:  # another process took over: its reply is the one that counts
        logger.warning("reply %s for session %s lost its claim", reply.reply_id, reply.session_id)
        await _stop(reply, sending)
        await _drawn_as_elsewhere(reply)
    except ModelError as error:
        await _stop(reply, sending)
        await _fail(reply, learner_id, error, started)
    except Exception as error:  # never leave the page waiting
        # The type only: a database error's text can quote the failing row, i.e. the message.
        logger.error(
            "reply %s for session %s failed: %s",
            reply.reply_id,
            reply.session_id,
            type(error).__name__,
        )
        await _stop(reply, sending)
        await _fail(reply, learner_id, ModelError("internal_error"), started)
    finally:
        _forget(reply)


def storable(text: str, cut: bool = False) -> str:
    """A model's reply as a message holds it: a reply the database refused (over its 8,000
    characters, or with a NUL) was streamed whole, then lost with "Try again", every time the
    model said it again, and its text went to PostgreSQL's log (the attacker's replay). A
    reply `cut` while it streamed ends with an ellipsis too; one with nothing visible is none."""
    text = UNSENDABLE.sub("", text).strip()  # NUL, which PostgreSQL cannot store, and the rest
    if cut or len(text) > MAX_CONTENT_LENGTH:
        text = text[: MAX_CONTENT_LENGTH - 1].rstrip() + "…"
    return text if shows_something(text) else ""


def _forget(reply: LiveReply) -> None:
    """No longer this process's reply in flight (not the next reply of its chat, started as
    this one sent its last frame)."""
    by_chat = _live.get(reply.session_id, {})
    if by_chat.get(reply.chat) is reply:
        del by_chat[reply.chat]
        if not by_chat:
            del _live[reply.session_id]


async def _drawn_as_elsewhere(reply: LiveReply) -> None:
    """Its tabs draw the reply as on its way from elsewhere, which they watch for (its claim
    passed to another process, or went with its session); a tab that shows the reply of the
    process holding the claim by now keeps it (a process that woke from a long freeze wiped
    out the stream the other was sending: found by the attacker's replay)."""
    _forget(reply)
    dropped = frames.Slot("waiting", ends=reply.reply_id)
    await send_frame(reply.session_id, frames.slot(reply.chat, dropped))


async def _stop(reply: LiveReply, sending: asyncio.Task) -> None:
    """Stop the reply's sender; its first frame (the learner's message) goes out first, so a
    reply that fails at once still leaves the message shown."""
    if not sending.done():
        opened = asyncio.ensure_future(reply.opened.wait())
        await asyncio.wait([opened, sending], return_when=asyncio.FIRST_COMPLETED)
        opened.cancel()
    if not sending.done():
        sending.cancel()
    await asyncio.gather(sending, return_exceptions=True)


async def _fail(reply: LiveReply, learner_id, error: ModelError, started: float) -> None:
    # The partial text is discarded: the claim goes, the page offers "Try again". Unless the
    # session is gone or the claim was found gone: then the tabs left (a session deleted
    # where no signal reached them) draw the reply as waiting, watch the claims and redraw
    # the chat, or close, once it is clear who answers (ChatConsumer._watch_claims).
    try:
        await _release(reply, learner_id, error, started)
    finally:  # whatever the database does: the page is told
        if error.reason in ("session_ended", "claim_lost"):
            await _drawn_as_elsewhere(reply)
        else:
            await send_frame(reply.session_id, frames.reply_failed(reply, error))


RELEASE_AGAIN_AFTER = 1.0  # seconds, while the database does not answer


async def _release(reply: LiveReply, learner_id, error: ModelError, started: float) -> None:
    """Give up the reply's claim and log why; with the database away (which failed the reply
    as it was stored), again until it answers or the claim has gone stale anyway, for the next
    look at the session to release. A database outage mid-reply left every tab saying
    "Replying…" for good: the release failed, and the page was never told (the attacker's
    replay)."""
    give_up_at = time.monotonic() + settings.REPLY_STALE_AFTER
    while True:
        try:
            await in_db(
                release_failed_reply,
                learner_id,
                reply.session_id,
                reply.chat,
                error,
                round((time.monotonic() - started) * 1000),
                len(reply.text),
            )
            return
        except Exception as failure:  # the type only: never a row's content
            logger.warning(
                "releasing reply %s's claim failed: %s", reply.reply_id, type(failure).__name__
            )
            if time.monotonic() >= give_up_at:
                return
            await asyncio.sleep(RELEASE_AGAIN_AFTER)


async def _send_text(reply: LiveReply, first_frame: Callable[[], str] | None = None) -> None:
    """The reply's one sender: `first_frame`, the bubble (with any text already there), the
    first token at once, then what has arrived, a frame an interval, by this process's frame
    clock."""
    session_id = reply.session_id
    async with fanout.streaming(session_id, wake=reply.changed):
        if first_frame:
            await send_frame(session_id, first_frame())
        reply.opened.set()
        reply.sent = len(reply.text)
        reply.arrivals = fanout.arrivals(session_id)
        await send_frame(session_id, frames.reply_started(reply))
        drawn_attempt = reply.attempt
        while reply.sent == len(reply.text) and not reply.finished:
            await reply.changed.wait()
            reply.changed.clear()
            if reply.attempt != drawn_attempt:  # the model is asked again: the bubble says so
                drawn_attempt = reply.attempt
                reply.arrivals = fanout.arrivals(session_id)
                await send_frame(session_id, frames.reply_started(reply))
            elif fanout.arrivals(session_id) != reply.arrivals:
                # A tab elsewhere, drawn before the first token: the bubble as it stands now
                # (a tab there drew dots while every other said "asking again": the recheck).
                reply.arrivals = fanout.arrivals(session_id)
                fanout.publish_elsewhere(session_id, frames.reply_started(reply))
        await _send_new_text(reply)
        if not reply.finished:
            await _frame_clock().carry(reply)
        await _send_new_text(reply)  # its last words, before the caller's finished frame


async def _send_new_text(reply: LiveReply) -> None:
    """What the reply's tabs have not been sent yet."""
    session_id = reply.session_id
    if fanout.arrivals(session_id) != reply.arrivals:  # a tab elsewhere needs the text so far
        reply.arrivals = fanout.arrivals(session_id)
        fanout.publish_elsewhere(session_id, frames.reply_started(reply))
    end = len(reply.text)
    if end > reply.sent:
        delta = frames.reply_delta(reply, reply.sent, reply.text[reply.sent : end])
        reply.sent = end
        await fanout.publish_delta(session_id, delta)


class _FrameClock:
    """One clock per process (per event loop) for every streaming reply. It ticks TICKS times
    per frame interval and, at each tick, sends the new text of the replies whose interval has
    passed since their last frame: one timer for all of them (a timer per reply woke the event
    loop 20 times a second for each), and the frames spread over the interval rather than sent
    in one burst, which kept first tokens and turns waiting."""

    TICKS = 5

    def __init__(self) -> None:
        self.replies: dict[LiveReply, asyncio.Future] = {}
        self.due: dict[LiveReply, float] = {}  # when each reply's next frame may go
        self.task: asyncio.Task | None = None

    async def carry(self, reply: LiveReply) -> None:
        """Until the reply has finished and its text so far has gone out."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self.replies[reply] = done
        self.due[reply] = loop.time() + frame_interval()
        if self.task is None or self.task.done():
            self.task = loop.create_task(self._tick())
        try:
            await done
        finally:
            self.replies.pop(reply, None)
            self.due.pop(reply, None)

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while self.replies:
            interval = frame_interval()
            await _pause(interval / self.TICKS)
            now = loop.time()
            for reply, done in list(self.replies.items()):
                if done.done():
                    continue
                if reply.finished:  # its sender sends the rest, then the finished frame
                    done.set_result(None)
                    continue
                if self.due.get(reply, now) > now:
                    continue
                self.due[reply] = now + interval
                try:
                    await _send_new_text(reply)
                except Exception as error:  # its sender gives up; the other replies go on
                    done.set_exception(error)


_clocks: dict[int, _FrameClock] = {}


def _frame_clock() -> _FrameClock:
    loop = asyncio.get_running_loop()
    clock = _clocks.get(id(loop))
    if clock is None or (clock.task is not None and clock.task.get_loop() is not loop):
        clock = _clocks[id(loop)] = _FrameClock()
    return clock


_lateness = 0.0  # how late this process's frame pauses end, smoothed (seconds)


def frame_interval() -> float:
    """The time between a reply's frames: CHAT_FRAME_INTERVAL (20 a second, as smooth as the
    eye needs), stretched up to CHAT_FRAME_INTERVAL_MAX while the event loop runs late, so
    a loaded process sends fewer, larger frames instead of falling further behind."""
    base = settings.CHAT_FRAME_INTERVAL
    return min(max(base, base + 4 * _lateness), settings.CHAT_FRAME_INTERVAL_MAX)


async def _pause(seconds: float) -> None:
    global _lateness
    started = time.monotonic()
    await asyncio.sleep(seconds)
    late = max(0.0, time.monotonic() - started - seconds)
    _lateness += (late - _lateness) * 0.1


async def _stream(reply: LiveReply, learner_id, request: ReplyRequest) -> ReplyDone:
    """Read the model's tokens into `reply.text`; per token only an append and a flag."""

    async def on_retry(attempt: int, delay: float, error: ModelError) -> None:
        await in_db(
            log_chat_event,
            learner_id,
            reply.session_id,
            reply.chat,
            Event.API_RETRY_ATTEMPTED,
            failure=error,
            attempt=attempt,
            delay_s=round(delay, 3),
        )
        reply.attempt = attempt + 1  # its tabs say so: the bubble stayed empty a minute
        reply.changed.set()

    try:
        async for item in get_provider().stream(request, on_retry):
            if isinstance(item, ReplyDone):
                return item
            if len(reply.text) < MAX_CONTENT_LENGTH:  # beyond, a message cannot hold it
                # Streamed as it will be stored: a lone surrogate failed the tab's send and
                # sank the batch of frames it went to Redis in, other learners' too.
                reply.text += UNSENDABLE.sub("", item)
                reply.changed.set()
            else:
                reply.cut = True
        raise ModelError("stream_ended_early")
    except (ModelError, asyncio.CancelledError):
        raise
    except Exception as error:  # an unexpected failure of the provider ends the reply
        raise ModelError(type(error).__name__) from error


def _keep_claims_alive() -> None:
    """One heartbeat task per process (per event loop), running while replies are live."""
    global _heartbeat
    loop = asyncio.get_running_loop()
    if _heartbeat is None or _heartbeat.done() or _heartbeat.get_loop() is not loop:
        _heartbeat = loop.create_task(_renew_claims())


async def _renew_claims() -> None:
    while _live:
        await asyncio.sleep(settings.REPLY_HEARTBEAT)
        streaming = {(reply.session_id, reply.chat): reply for reply in all_live()}
        try:
            held = await in_db(claims.heartbeat, list({sid for sid, _ in streaming}))
        except Exception as error:  # the next beat tries again
            logger.warning("renewing reply claims failed: %s", type(error).__name__)
            continue
        for key, reply in streaming.items():
            if key not in held and not reply.finished:  # its session is gone, or its claim
                _end(reply, "claim_lost")
