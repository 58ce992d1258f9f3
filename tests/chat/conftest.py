"""Chat fixtures: a fake Anthropic server the real SDK talks to, and websocket tabs."""

import asyncio
import json
import re

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from accounts.rls import acting_as_staff
from chat import replies
from chat.models import Message
from chat.routing import websocket_urlpatterns
from eventlog.models import Log
from scenarios.models import Session
from tests.conftest import add_message, start_session
from tests.fakes.anthropic_server import FakeAnthropic, PlannedResponse

# Database work in the consumer happens on other threads and connections, so these tests
# commit for real; serialized_rollback puts the seeded scenarios back afterwards.
chat_db = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def fake_anthropic(settings):
    with FakeAnthropic(PlannedResponse(text="Hallo! Was darf es sein?")) as fake:
        settings.ANTHROPIC_API_KEY = "test-key"
        settings.ANTHROPIC_BASE_URL = fake.url
        settings.MODEL_RETRY_BASE_DELAY = 0.01
        settings.MODEL_FIRST_TOKEN_TIMEOUT = 2.0
        yield fake


@pytest.fixture
def offline(settings):
    settings.ANTHROPIC_API_KEY = ""
    settings.OFFLINE_TOKEN_DELAY = 0


@pytest.fixture
def alice_session(alice, marketplace):
    """Alice's active marketplace session with its two opening messages."""
    session = start_session(alice, marketplace)
    add_message(session, "scenario", "main", marketplace.initial_message_main)
    add_message(session, "helper", "helper", marketplace.initial_message_helper)
    return session


class Tab:
    """One browser tab's websocket, with helpers to await frames."""

    def __init__(self, user, session_id):
        app = URLRouter(websocket_urlpatterns)
        self.communicator = WebsocketCommunicator(app, f"/ws/sessions/{session_id}/")
        self.communicator.scope["user"] = user
        self.frames: list[str] = []

    async def connect(self):
        connected, code = await self.communicator.connect()
        return connected, code

    async def send(self, chat="main", message="Ich hätte gern Tomaten.", **extra):
        await self.communicator.send_to(
            text_data=json.dumps({"chat": chat, "message": message, **extra})
        )

    async def receive(self, timeout=5.0) -> str:
        frame = await self.communicator.receive_from(timeout=timeout)
        self.frames.append(frame)
        return frame

    async def until(self, marker: str, timeout=5.0) -> str:
        """Frames up to and including the first containing `marker` (a regex)."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.receive(timeout)
                if re.search(marker, frame):
                    return frame

    async def close(self):
        await self.communicator.disconnect()


FINISHED = 'data-reply-state="done"'
FAILED = 'data-reply-state="failed"'
STREAMING = 'data-reply-state="streaming"'


def streamed_text(frames: list[str]) -> str:
    return "".join(
        re.findall(r'hx-swap-oob="beforeend:#reply-\w+-text">(.*?)</span>', "".join(frames), re.S)
    )


async def settle():
    """Await every reply task this process is running."""
    tasks = [reply.task for reply in list(replies._live.values()) if reply.task]
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)


@database_sync_to_async
def stored(session_id, chat=None):
    with acting_as_staff():
        messages = Message.objects.filter(session_id=session_id).order_by("sent_at", "id")
        if chat:
            messages = messages.filter(chat_type=chat)
        return [(m.role, m.content) for m in messages]


@database_sync_to_async
def events(event_type=None):
    with acting_as_staff():
        logs = Log.objects.order_by("created_at")
        if event_type:
            logs = logs.filter(event_type=event_type)
        return [(log.event_type, log.level, log.metadata) for log in logs]


@database_sync_to_async
def session_row(session_id):
    with acting_as_staff():
        return Session.objects.get(pk=session_id)
