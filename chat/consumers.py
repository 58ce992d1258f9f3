"""The websocket of one chat page: learner messages in, streamed frames out.

The consumer only validates and routes; turns are stored by chat.turns and replies streamed by
chat.replies, in a task of their own, so a reply outlives the socket that asked for it.
"""

import json
import time
import uuid
from collections import defaultdict, deque

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from accounts.rls import acting_as_learner
from chat import frames, replies
from chat.replies import in_db
from chat.turns import TurnRefused, accept_turn, prepare_retry, session_for, transcript
from eventlog.events import log_event
from eventlog.models import Event, Level

MAX_FRAME_CHARS = 16_000  # a 1,000-character message with htmx's headers fits many times over
CHATS = ("main", "helper")

# Per-process sliding windows of recent message times, one per learner.
_recent_messages: dict[str, deque] = defaultdict(deque)


class ChatConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        self.session_id = str(self.scope["url_route"]["kwargs"]["session_id"])
        if not (user and user.is_authenticated):
            await self.close(code=4401)
            return
        self.learner_id = str(user.pk)
        session = await in_db(session_for, self.learner_id, self.session_id)
        if session is None:  # someone else's session, or none at all: refuse, reveal nothing
            await self.close(code=4403)
            return
        self.session = session
        self.group = replies.group_name(self.session_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        # Whatever happened while this tab was away (a reply finished, another tab wrote).
        messages = await in_db(transcript, self.learner_id, self.session_id)
        await self.send(frames.sync(messages, replies.live_replies(self.session_id)))

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def dispatch(self, message):
        # Frames are the hot path and touch no database: skip Channels' per-message
        # close_old_connections(), a thread hop for every frame of every reply.
        if message["type"] == "chat.frame":
            await self.send(text_data=message["html"])
        else:
            await super().dispatch(message)

    async def chat_frame(self, event):
        await self.send(text_data=event["html"])

    async def receive(self, text_data=None, bytes_data=None):
        frame = self._parse(text_data)
        if isinstance(frame, str):
            await self.send(frames.notice("main", frame))
            return
        chat = frame["chat"]
        if frame.get("action") == "retry":
            await self._retry(chat)
            return
        content = str(frame.get("message", "")).strip()
        client_id = _uuid(frame.get("client_message_id")) or uuid.uuid4()
        problem = self._check_message(chat, content, str(client_id))
        if problem:
            if problem != "resend":
                await self.send(frames.notice(chat, problem))
            return
        if not await self._within_rate_limit():
            await self.send(
                frames.notice(
                    chat,
                    "You are sending messages very quickly. Take a breath and try again in a "
                    "minute.",
                )
            )
            return
        try:
            turn = await in_db(accept_turn, self.learner_id, self.session, chat, content, client_id)
        except TurnRefused as refusal:
            await self.send(frames.notice(chat, str(refusal)))
            return
        if turn.created:
            await replies.send_frame(self.session_id, frames.learner_message(turn.message))
        else:  # a resend: this tab may have missed what the others saw
            messages = await in_db(transcript, self.learner_id, self.session_id)
            await self.send(frames.sync(messages, replies.live_replies(self.session_id)))
        if turn.request and not replies.live_reply(self.session_id, chat):
            replies.start_reply(
                self.learner_id,
                self.session_id,
                chat,
                turn.request,
                turn.main_count,
                str(client_id),
            )

    def _parse(self, text_data) -> dict | str:
        if text_data is None:
            return "Only text frames are accepted."
        if len(text_data) > MAX_FRAME_CHARS:
            return "That message is far too long to send."
        try:
            frame = json.loads(text_data)
        except ValueError:
            return "That message could not be read. Please try again."
        if not isinstance(frame, dict) or frame.get("chat") not in CHATS:
            return "That message could not be read. Please try again."
        return frame

    def _check_message(self, chat: str, content: str, client_id: str) -> str | None:
        live = replies.live_reply(self.session_id, chat)
        if live and live.trigger_id == client_id:
            return "resend"  # the reply to it is already streaming
        if live:
            return "Wait for the reply before sending the next message."
        if not content:
            return "Write a message first."
        if len(content) > settings.CHAT_MESSAGE_MAX_LENGTH:
            return (
                f"Messages can be at most {settings.CHAT_MESSAGE_MAX_LENGTH:,} characters; "
                f"this one has {len(content):,}."
            )
        return None

    async def _within_rate_limit(self) -> bool:
        now, window = time.monotonic(), settings.CHAT_RATE_WINDOW
        recent = _recent_messages[self.learner_id]
        while recent and recent[0] <= now - window:
            recent.popleft()
        if len(recent) >= settings.CHAT_RATE_LIMIT:
            await in_db(_log_rate_limited, self.learner_id, self.session_id, len(recent))
            return False
        recent.append(now)
        return True

    async def _retry(self, chat: str) -> None:
        if replies.live_reply(self.session_id, chat):
            return
        try:
            prepared = await in_db(prepare_retry, self.learner_id, self.session_id, chat)
        except TurnRefused as refusal:
            await self.send(frames.notice(chat, str(refusal)))
            return
        if prepared:
            request, main_count = prepared
            replies.start_reply(self.learner_id, self.session_id, chat, request, main_count, None)


def _uuid(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _log_rate_limited(learner_id, session_id, count: int) -> None:
    with acting_as_learner(learner_id):
        log_event(
            Event.RATE_LIMIT_EXCEEDED,
            level=Level.WARN,
            user_id=learner_id,
            session_id=session_id,
            limit=settings.CHAT_RATE_LIMIT,
            window_s=settings.CHAT_RATE_WINDOW,
            messages_in_window=count,
        )
