"""The websocket of one chat page: learner messages in, streamed frames out.

The consumer only validates and routes; turns are stored by chat.turns and replies streamed by
chat.replies, in a task of their own, so a reply outlives the socket that asked for it.

Close codes the page acts on (the socket is accepted first, so the browser sees them):
4401 not logged in (or logged out since), 4403 not this learner's session, 4409 the page was
drawn for another account than the one logged in now, 4410 the account was deleted, 4429 too
many open sockets; 4012 the server is restarting (the page reconnects:
autobahn allows no 1012); 4011 the password changed (the page reconnects, and hears 4401 if
its login ended with it).
"""

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import re
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from functools import partial
from urllib.parse import parse_qs

from autobahn.exception import Disconnected as WebSocketClosing  # Daphne's websocket library
from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from accounts import channels_auth
from accounts.channels_auth import SocketLogin
from accounts.logins import is_page_owner
from chat import allowance, conversations, fanout, frames, login_changes, replies
from chat.call_log import log_chat_event
from chat.models import Message
from chat.refusals import LoginEnded, ReplyInFlight, SentWithOtherWords, SessionEnded, TurnRefused
from chat.replies import in_db
from chat.turns import AcceptedTurn, accept_turn, prepare_retry
from eventlog.events import Event, Level
from lib.ids import parse_uuid
from lib.text import shows_something, unprintable, without_blank_edges, without_hidden_controls
from scenarios import lifecycle

logger = logging.getLogger(__name__)

MAX_FRAME_CHARS = 16_000  # a 1,000-character message with htmx's headers fits many times over
_CHAT_NAMED = re.compile(r'[{,]\s*"chat"\s*:\s*"(main|helper)"')
CHATS = tuple(Message.ChatType.values)
UNSENDABLE = "Your message contains characters that cannot be sent. Remove them and try again."

# Per process: open sockets per learner (per session: chat.fanout's tabs), and per login
# (by its group's name: login_group).
_sockets_by_learner: dict[str, set] = defaultdict(set)
_sockets_by_login: dict[str, set] = defaultdict(set)


def _sockets_of(learner_or_login: str) -> set:
    """A learner's sockets here, or a login's (a name from login_group())."""
    if learner_or_login.startswith("login-"):
        return _sockets_by_login.get(learner_or_login, set())
    return _sockets_by_learner.get(learner_or_login, set())


def _learners_with_sockets() -> list[str]:
    return list(_sockets_by_learner)


# A frame that draws a reply as streaming or on its way (chat/frames/slot.html).
REPLY_IN_FLIGHT = re.compile(
    r'id="(?P<chat>main|helper)-live"[^>]*data-frame="slot"><article[^>]*'
    r'data-slot="(?:streaming|waiting)"'
)
SLOT_DRAWN = re.compile(r'id="(?P<chat>main|helper)-live"')  # ...or the slot drawn in any way
# A frame that adds a message to a chat (chat/frames/*.html, chat/partials/message.html).
MESSAGE_ADDED = re.compile(
    r'hx-swap-oob="beforeend:#(?:main|helper)-messages"[^>]*>\s*'
    r'<article[^>]*id="msg-(?P<id>[0-9a-f-]+)"'
)


def learner_group(learner_id) -> str:
    return f"learner-{learner_id}"


def login_group(session_key: str) -> str:
    # Hashed: the session key is a credential and channel names may be logged by the layer.
    return "login-" + hashlib.sha256(session_key.encode()).hexdigest()[:32]


class UnreadableFrame(Exception):
    def __init__(self, text: str, chat: str = Message.ChatType.MAIN):
        super().__init__(text)
        self.text, self.chat = text, chat


@dataclass(frozen=True)
class Incoming:
    chat: str
    action: str  # "send" or "retry"
    content: str = ""
    client_message_id: uuid.UUID | None = None


def parse_frame(text_data: str | None) -> Incoming:
    """A frame from the page, checked strictly; anything else is an UnreadableFrame."""
    unreadable = "That message could not be read. Please try again."
    if text_data is None:
        raise UnreadableFrame("Only text frames are accepted.")
    if len(text_data) > MAX_FRAME_CHARS:
        # Not read, but said in the chat it names, if it does: always the role-play's, a
        # helper message's refusal came where the learner was not writing (the attacker's
        # replay). A key follows "{" or ",": a value's quotes are escaped.
        named = _CHAT_NAMED.search(text_data)
        chat = named[1] if named else Message.ChatType.MAIN
        raise UnreadableFrame("That message is far too long to send.", chat)
    try:
        frame = json.loads(text_data)
    except (ValueError, RecursionError) as error:  # deep nesting raises RecursionError
        raise UnreadableFrame(unreadable) from error
    if not isinstance(frame, dict) or frame.get("chat") not in CHATS:
        raise UnreadableFrame(unreadable)
    chat = frame["chat"]
    action = frame.get("action", "send")
    if action == "retry":
        return Incoming(chat, "retry")
    message = frame.get("message", "")
    if action != "send" or not isinstance(message, str):
        raise UnreadableFrame(unreadable, chat)
    client_id = frame.get("client_message_id")
    if client_id in (None, ""):
        client_id = None
    elif (client_id := parse_uuid(client_id)) is None:
        raise UnreadableFrame(unreadable, chat)
    content = without_blank_edges(without_hidden_controls(message))
    if not content:
        raise UnreadableFrame("Write a message first.", chat)
    if len(content) > settings.CHAT_MESSAGE_MAX_LENGTH:
        raise UnreadableFrame(
            f"Messages can be at most {settings.CHAT_MESSAGE_MAX_LENGTH:,} characters; "
            f"this one has {len(content):,}.",
            chat,
        )
    if unprintable(content):
        raise UnreadableFrame(UNSENDABLE, chat)
    if not shows_something(content):  # only zero-width or format characters
        raise UnreadableFrame("Write a message first.", chat)
    return Incoming(chat, "send", content, client_id)


LOGIN_EXPIRY_SLACK = 0.5  # seconds after a login's expiry that its sockets check it

FRAMES_PER_SECOND = 5  # from one page, at most (sustained)
FRAMES_AT_ONCE = 20  # ...and in a burst
TOO_MANY_FRAMES = "This page is sending very quickly: what it sent just now was not taken."


class ChatConsumer(AsyncWebsocketConsumer):
    groups_joined: tuple[str, ...] = ()
    watching: asyncio.Task | None = None
    expiry: asyncio.TimerHandle | None = None
    login_name: str | None = None
    # A resend of a stored message, or "Try again" with nothing to retry, redraws the page
    # once, until a frame draws anything new. Each read and queued the whole conversation: a
    # socket that never read, resending its message, grew the process by hundreds of MB (the
    # ops replay and its recheck); retries, and two messages resent in turn, redrew it each
    # time, bounded only by the message rate (the attacker's replay and its recheck).
    redrawn_since_drawn = False
    told_to_slow_down = False
    joined = False
    # Frames pushed while the page's snapshot is being read and sent wait here, then follow
    # it: the snapshot is read after joining, so nothing falls between the two.
    held: list[str] | None = None
    # What the page shows, as far as this socket's frames tell: the chats whose slot it last
    # drew as a reply streaming or on its way, and the messages it drew.
    drawn_in_flight: frozenset[str] = frozenset()
    drawn_messages: set[str] | None = None

    def _page_owner(self) -> str:
        """The account the page was drawn for (`?for=`, accounts.logins.page_owner), if it
        says: a page drawn before it did, and the tests' sockets, do not. Not a guard: the
        session's owner is checked all the same."""
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        return query.get("for", [""])[0]

    async def connect(self):
        user = self.scope.get("user")
        self.session_id = str(self.scope["url_route"]["kwargs"]["session_id"])
        await self.accept()
        if not (user and user.is_authenticated and user.is_active):
            await self.close(code=4401)
            return
        owner = self._page_owner()
        if owner and not is_page_owner(user, owner):
            # Another account logged in in this browser since the page was drawn: it said
            # "This conversation is no longer available" (the last note's left item).
            await self.close(code=4409)
            return
        self.learner_id = str(user.pk)
        self.email = user.email  # whose daily model budget the turns spend
        session = await in_db(lifecycle.find_session, self.learner_id, self.session_id)
        if session is None:  # someone else's session, or none at all: refuse, reveal nothing
            await self.close(code=4403)
            return
        if (
            len(fanout.tabs_of(self.session_id)) >= settings.CHAT_SOCKETS_PER_SESSION
            or len(_sockets_by_learner[self.learner_id]) >= settings.CHAT_SOCKETS_PER_LEARNER
        ):
            await self.close(code=4429)
            return
        session_key = getattr(self.scope.get("session"), "session_key", None)
        # With the password the handshake checked the login against (Channels' get_user).
        self.login = SocketLogin(session_key, user.password) if session_key else None
        self.login_name = login_group(session_key) if session_key else None
        _sockets_by_learner[self.learner_id].add(self)
        if self.login_name:
            _sockets_by_login[self.login_name].add(self)
        await login_changes.keep_listening(_sockets_of, _learners_with_sockets)
        read_at = self.scope.get("login_read_at", math.inf)
        if any(
            login_changes.changed_since(name, read_at)
            for name in (self.learner_id, self.login_name, login_changes.EVERY_LOGIN)
            if name
        ):
            await self.close(code=4011)  # connect again: the handshake reads the login anew
            return
        if not login_changes.heard_everything_since(read_at):
            if not await self.close_unless_login_holds():
                return
        self.held = []
        self.joined = True
        await fanout.join(self.session_id, self)
        self.session = session
        self.character = frames.character_of(session.scenario)
        groups = [replies.group_name(self.session_id), learner_group(self.learner_id)]
        if self.login_name:
            groups.append(self.login_name)
        self.groups_joined = tuple(groups)
        self._close_when_the_login_expires(self.scope.get("login_expires_at"))
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self._send_sync(joined_now=True)

    async def dispatch(self, message):
        # Channels' own dispatch first closes old database connections on its one shared sync
        # thread, for every frame: each handshake and message queued there behind all the
        # others (and the site's page views). This consumer's database work runs on pool
        # threads (replies.in_db), which close their own connections.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        finally:
            # Also when disconnect() never runs: the server cancels a consumer still busy with
            # frames 10 s after its socket closed, and its seat must not stay taken (4429).
            self._leave()

    async def disconnect(self, code):
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self._leave()

    def _leave(self) -> None:
        if self.watching:
            self.watching.cancel()
        if self.expiry:
            self.expiry.cancel()
        if self.joined:
            self.joined = False
            fanout.leave(self.session_id, self)
        learner_id = getattr(self, "learner_id", None)
        if self in _sockets_by_learner.get(learner_id, ()):  # registered, joined or not
            _sockets_by_learner[learner_id].discard(self)
            if not _sockets_by_learner[learner_id]:
                del _sockets_by_learner[learner_id]
            if not _sockets_by_learner:
                login_changes.stop()
        if self in _sockets_by_login.get(self.login_name, ()):
            _sockets_by_login[self.login_name].discard(self)
            if not _sockets_by_login[self.login_name]:
                del _sockets_by_login[self.login_name]

    def _close_when_the_login_expires(self, expires_at: float | None) -> None:
        """Checks the login again when it expires (and closes the socket if it has): an
        expired login's socket that only listened went on receiving the conversation (the
        attacker's replay). A login kept alive meanwhile is checked again at its new expiry."""
        if expires_at is None:
            return
        loop = asyncio.get_running_loop()
        self.expiry = loop.call_at(
            loop.time() + max(expires_at - time.time(), 0) + LOGIN_EXPIRY_SLACK,
            lambda: asyncio.ensure_future(self._at_login_expiry()),
        )

    async def _at_login_expiry(self) -> None:
        try:
            await self.recheck_login()
        except Exception as error:  # the database away: the next turn checks the login
            logger.warning("checking an expired login failed: %s", type(error).__name__)

    async def recheck_login(self) -> None:
        """The login expired, was deleted or will expire sooner: the socket closes (4011) if
        it no longer holds, else waits for its expiry as it stands now."""
        if await self.close_unless_login_holds():
            if self.expiry:
                self.expiry.cancel()
            expires_at = await in_db(channels_auth.login_expires_at, self.login)
            self._close_when_the_login_expires(expires_at)

    def _frame_allowed(self) -> bool:
        """At most FRAMES_PER_SECOND frames a second from a page (FRAMES_AT_ONCE at once); the
        rest are dropped before any work. A page sends a few a minute; a client sending
        thousands a second had each read, queued and answered in turn, and its consumer
        outlived it by 10 s (the ops replay's recheck)."""
        now = time.monotonic()
        self.frame_tokens = min(
            FRAMES_AT_ONCE,
            getattr(self, "frame_tokens", FRAMES_AT_ONCE)
            + (now - getattr(self, "frames_counted_at", now)) * FRAMES_PER_SECOND,
        )
        self.frames_counted_at = now
        if self.frame_tokens < 1:
            return False
        self.frame_tokens -= 1
        return True

    async def send(self, text_data=None, bytes_data=None, close=False):
        """A frame to a socket its page is closing is dropped: Daphne passes it on until the
        close completes, and the socket's library refused it, which logged a traceback and an
        `unknown_error` row for each (the ops replay: clients that closed with frames due)."""
        try:
            await super().send(text_data, bytes_data, close)
        except WebSocketClosing:
            pass

    async def push(self, html: str) -> None:
        """A frame from chat.fanout (the session's replies and turns, from any tab)."""
        if self.held is not None:
            self.held.append(html)
        else:
            await self._draw(html)
        if html.startswith("{"):  # a text delta (JSON): no bubble drawn
            return
        in_flight = REPLY_IN_FLIGHT.search(html)
        if in_flight and in_flight["chat"] not in replies.live_in(self.session_id):
            # If the process answering dies, or nobody does, its reply never ends.
            self._watch_claims_elsewhere()

    async def _draw(self, html: str) -> None:
        """Send a pushed frame, noting the slots it draws in flight or not."""
        await self.send(text_data=html)
        if html.startswith("{"):
            return  # a reply's text: nothing new to redraw for
        self.redrawn_since_drawn = False
        drawn = {match["chat"] for match in SLOT_DRAWN.finditer(html)}
        if drawn:
            in_flight = {match["chat"] for match in REPLY_IN_FLIGHT.finditer(html)}
            self.drawn_in_flight = (self.drawn_in_flight - drawn) | in_flight
        if self.drawn_messages is not None:
            self.drawn_messages.update(added["id"] for added in MESSAGE_ADDED.finditer(html))

    async def catch_up(self) -> None:
        """Frames or messages from elsewhere were lost (Redis was away): a log-out, a new
        password or a deleted session among them closes the socket now, and the page is
        drawn again. A login that no longer holds may be one a new password replaced, on
        the page that chose it (Django gives it a new key): as for "password.changed", the
        page connects again and the handshake tells (4401 told that learner "You are logged
        out": the attacker's recheck)."""
        if await self.close_unless_login_holds():
            await self._send_sync()

    async def close_unless_login_holds(self) -> bool:
        """Whether this socket's login still holds; if not, the socket closes with 4011, or as
        for a deleted account when the account is gone: the database's word that its logins
        were deleted with it could come before "account.deleted", and the page said "You are
        logged out" of an account there is no more."""
        if await in_db(allowance.login_holds, self.learner_id, self.login):
            return True
        if not await in_db(channels_auth.account_exists, self.learner_id):
            await self.account_deleted({})
        else:
            await self.close(code=4011)
        return False

    async def groups_rewritten(self, event):
        """Redis had forgotten this socket's groups (maraum.redis_channel_layer)."""
        try:
            await self.catch_up()
        except Exception as error:  # the database away too, say: the socket stays open
            logger.warning(
                "a catch-up for session %s failed: %s", self.session_id, type(error).__name__
            )

    def _watch_claims_elsewhere(self) -> None:
        if not (self.watching and not self.watching.done()):
            self.watching = asyncio.create_task(self._watch_claims())

    async def login_ended(self, event):
        """The learner logged out or was deactivated."""
        await self.close(code=4401)

    async def password_changed(self, event):
        """A new password ends every login but the one that chose it (on the account page;
        none, for a reset or the admin's). Which logins hold is checked as a socket opens
        (Django's session check), so every page connects again: the one the learner is
        using carries on, any other hears 4401."""
        await self.close(code=4011)

    async def account_deleted(self, event):
        """The account went, and its sessions with it: logging in again would not help."""
        replies.end_session_replies(self.session_id)
        await self.close(code=4410)

    async def session_ended(self, event):
        """The session was abandoned, replaced or expired: its replies stop, its pages close."""
        replies.end_session_replies(self.session_id)
        await self.close(code=4403)

    async def cards_kept(self, event):
        """Words or lines the learner kept, in this tab or any other: the page draws their
        copies as in the deck (JSON, as a text delta is, so it waits behind a sync too)."""
        await self.push(json.dumps({"kept": event["german"]}))

    async def receive(self, text_data=None, bytes_data=None):
        if not self._frame_allowed():
            if not self.told_to_slow_down:  # once a flood: a notice each would echo it
                self.told_to_slow_down = True
                await self.send(frames.notice(Message.ChatType.MAIN, TOO_MANY_FRAMES))
            return
        self.told_to_slow_down = False
        try:
            incoming = parse_frame(text_data)
        except UnreadableFrame as unreadable:
            await self.send(frames.notice(unreadable.chat, unreadable.text))
            return
        try:
            await self._handle(incoming)
        except LoginEnded:
            # A new password ends this login unless this page chose it (Django gave its
            # session a new key): it connects again and the handshake tells, as after
            # "password.changed" (4401 said "You are logged out" to the learner who had just
            # chosen it: the attacker's recheck).
            replaced = await in_db(channels_auth.password_replaced, self.learner_id, self.login)
            await self.close(code=4011 if replaced else 4401)
        except Exception as error:  # the socket stays open; the learner is told
            logger.error("frame for session %s failed: %s", self.session_id, type(error).__name__)
            with contextlib.suppress(Exception):
                await in_db(
                    log_chat_event,
                    self.learner_id,
                    self.session_id,
                    incoming.chat,
                    Event.UNKNOWN_ERROR,
                    level=Level.ERROR,
                    where="chat_turn",
                    error=type(error).__name__,
                )
            await self.send(
                frames.notice(
                    incoming.chat,
                    "Something went wrong on our side, and your message may not have been "
                    "sent. Please try again in a moment.",
                )
            )

    async def _handle(self, incoming: Incoming) -> None:
        chat = incoming.chat
        if not replies.accepting:
            await self.send(
                frames.notice(
                    chat,
                    "The server is restarting. Your message was not sent: send it again in a "
                    "few seconds.",
                )
            )
            return
        live = replies.live_in(self.session_id).get(chat)
        if live and incoming.action == "retry":
            return  # its reply is already on its way
        if live and incoming.client_message_id and live.answers == incoming.client_message_id:
            if incoming.content != live.answers_words:
                await self.send(frames.notice(chat, str(SentWithOtherWords())))
            elif not await in_db(allowance.login_holds, self.learner_id, self.login):
                raise LoginEnded  # it drew the whole conversation for an ended login
            else:  # a resend of the message being answered: show the stream
                await self._redraw_once()
            return
        if live and incoming.action == "send":
            await self.send(frames.notice(chat, str(ReplyInFlight()), until_reply=True))
            return
        with replies.taking_turn(self.session_id):  # no await since `accepting` was read
            if incoming.action == "retry":
                await self._retry(chat)
            else:
                await self._send_message(incoming)

    async def _send_message(self, incoming: Incoming) -> None:
        chat = incoming.chat
        client_id = incoming.client_message_id or uuid.uuid4()
        try:
            turn = await in_db(
                accept_turn,
                self.learner_id,
                self.session,
                chat,
                incoming.content,
                client_id,
                self.login,
                self.email,
            )
        except SessionEnded:  # deleted where no message reached this socket (cleanup, say)
            await self.close(code=4403)
            return
        except TurnRefused as refusal:
            waiting = isinstance(refusal, ReplyInFlight)
            await self.send(frames.notice(chat, str(refusal), until_reply=waiting))
            return
        self.character = frames.character_of(self.session.scenario)  # as the turn read it
        if turn.completed:
            await replies.send_frame(self.session_id, frames.turn_completed(turn, self.character))
            return
        learner_frame = partial(self._learner_frame, turn) if turn.created else None
        if turn.request:
            # The model is asked first; the learner's bubble is drawn while it answers.
            replies.start_reply(
                self.learner_id,
                self.session_id,
                chat,
                turn.request,
                turn.main_count,
                self.character,
                turn.message,
                first_frame=learner_frame,
            )
        elif learner_frame:
            await replies.send_frame(self.session_id, learner_frame())
        elif not turn.created:  # a resend: this tab may have missed what the others saw
            await self._redraw_once()

    async def _redraw_once(self) -> None:
        if not self.redrawn_since_drawn:
            self.redrawn_since_drawn = True
            await self._send_sync()

    def _learner_frame(self, turn: AcceptedTurn) -> str:
        main_now = turn.main_count - 1 if turn.message.chat_type == Message.ChatType.MAIN else None
        shown = frames.learner_message(turn.message, self.character, main_now, turn.kept)
        return shown + frames.budget(turn.calls_left)

    async def _retry(self, chat: str) -> None:
        try:
            prepared = await in_db(
                prepare_retry, self.learner_id, self.session_id, chat, self.login
            )
        except SessionEnded:  # deleted where no message reached this socket (cleanup, say)
            await self.close(code=4403)
            return
        except TurnRefused as refusal:
            await self.send(frames.notice(chat, str(refusal)))
            return
        if prepared:
            request, main_count = prepared
            replies.start_reply(
                self.learner_id, self.session_id, chat, request, main_count, self.character
            )
        else:  # nothing to retry, or another tab's retry got there first
            await self._redraw_once()

    async def _send_sync(self, joined_now: bool = False) -> None:
        """Everything the page shows, read now; frames pushed meanwhile follow it. (Joined
        now: the join itself asked other processes for their replies' text so far.)"""
        if self.held is None:
            self.held = []
        try:
            shown = await in_db(conversations.load, self.learner_id, self.session_id)
            if shown is None:  # abandoned or deleted meanwhile
                self.held = None  # nothing more to a page being closed
                await self.close(code=4403)
                return
            elsewhere = await self._show(shown)
        finally:
            while self.held:
                await self._draw(self.held.pop(0))
            self.held = None
        if elsewhere:
            if not joined_now:
                fanout.ask_for_text(self.session_id)
            self._watch_claims_elsewhere()

    async def _show(self, shown: conversations.Conversation) -> set[str]:
        """Send the snapshot; the chats whose reply streams in another process."""
        week = None
        if shown.session.is_completed:
            week = await in_db(lifecycle.weekly_allowance, self.learner_id)
        live = replies.live_in(self.session_id)
        # A reply streaming in another process shows as waiting: that process answers
        # (chat.fanout) with its bubble and the text so far, which follows this.
        await self.send(frames.sync(shown, live, week))
        self.drawn_in_flight = frozenset(shown.claimed | set(live))
        self.drawn_messages = _message_ids(shown)
        return shown.claimed - set(live)

    async def _watch_claims(self) -> None:
        """A reply in flight in another process: if that process stops renewing its claim
        (it died), show the reply as interrupted once the claim goes stale. A page that has
        drawn the reply's end (the other process's frames) is not drawn again: each reply
        streamed elsewhere redrew the whole page (the ops replay)."""
        while True:
            await asyncio.sleep(settings.REPLY_STALE_AFTER / 2)
            try:
                if await self._look_at_claims():
                    return
            except Exception as error:  # the database away: it looks again (the watcher died
                # at the first failure, and the page said "Replying…" for good: the attacker's
                # replay)
                logger.warning("watching reply claims failed: %s", type(error).__name__)

    async def _look_at_claims(self) -> bool:
        """One look of _watch_claims; True once there is nothing left to watch."""
        shown = await in_db(conversations.load, self.learner_id, self.session_id)
        if shown is None:  # deleted where no signal reached this tab
            await self.close(code=4403)
            return True
        live = set(replies.live_in(self.session_id))
        if shown.claimed - live:
            return False
        # A reply drawn on its way that no process answers, or a message the page did not
        # draw (its frame lost, Redis away): the page is drawn again.
        if self.drawn_in_flight - live or _message_ids(shown) - (self.drawn_messages or set()):
            # Done watching: a reply this redraw finds on its way elsewhere is watched anew (it
            # found this watcher still running, and none was).
            self.watching = None
            await self._send_sync()
        return True


def _message_ids(shown: conversations.Conversation) -> set[str]:
    """The messages a page shows, by their ids as its frames name them."""
    return {str(message.pk) for chat in CHATS for message in shown.on_page(chat)}


SERVER_RESTARTING = 4012
DRAIN_LOOK_EVERY = 0.1  # seconds: how often a drain looks for sessions with no reply left here


async def drain(grace: float) -> int:
    """SIGTERM (maraum.serve): no new turns, and the replies in flight get `grace` seconds to
    finish (replies.drain; returns how many did not). Meanwhile the sockets close with 4012:
    the pages reconnect, through the load balancer, to a process that is not stopping, and may
    send again there (before, every page waited out the whole drain and its messages were
    refused: found by the attacker's replay of a rolling restart). On Redis all at once, also
    those of a session whose reply streams here: another process shows its text so far and
    the rest (chat.fanout), and takes a message in the other chat meanwhile (it was refused
    for as long as the reply streamed: the attacker's replay). Alone, with no process to go
    to, a page keeps its socket until its reply is stored; the rest close once the drain is
    over."""
    draining = asyncio.ensure_future(replies.drain(grace))
    moves_mid_reply = fanout.crosses_processes()
    while True:
        for session_id in fanout.session_ids():
            # Alone, also not while its turn is being stored (its reply is yet to start): the
            # page closed at once and saw neither its message nor the reply (the attacker's
            # replay).
            if moves_mid_reply or not replies.busy_in(session_id):
                await _close_for_restart(fanout.tabs_of(session_id))
        done, _ = await asyncio.wait({draining}, timeout=DRAIN_LOOK_EVERY)
        if done:
            return draining.result()


async def close_all_sockets() -> None:
    """Close every chat socket of this process with 4012. Frames are sent as they are pushed,
    so each page has had all of its frames."""
    await _close_for_restart(fanout.all_tabs())
    await fanout.close()


async def _close_for_restart(consumers) -> None:
    for consumer in list(consumers):
        await consumer.close(code=SERVER_RESTARTING)
        await consumer.disconnect(SERVER_RESTARTING)
