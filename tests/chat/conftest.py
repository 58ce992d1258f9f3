"""Chat fixtures: a fake Anthropic server the real SDK talks to, and websocket tabs."""

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys

import pytest
from channels.db import database_sync_to_async
from channels.layers import channel_layers
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django_tasks_db.models import DBTaskResult

from chat import consumers, fanout, replies, signals
from chat.models import Message
from chat.providers import close_provider
from chat.routing import websocket_urlpatterns
from eventlog.models import Log
from lib.rls import acting_as_staff
from scenarios.models import Session
from tests.conftest import add_message, database_url, start_session
from tests.support.fake_anthropic import FakeAnthropic, PlannedResponse, lorem_text

# Database work in the consumer happens on other threads and connections, so these tests
# commit for real; serialized_rollback puts the seeded scenarios back afterwards.
chat_db = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def fake_anthropic(settings, monkeypatch):
    from chat import tasks

    # A model that answers: no back-off left by an earlier test's failing one (chat/tasks.py).
    monkeypatch.setattr(tasks, "_model_unavailable_until", 0.0)
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


_open_sockets: list[WebsocketCommunicator] = []


class PatientCommunicator(WebsocketCommunicator):
    """Channels' test websocket with room for a busy machine: its defaults (1 s to connect or
    for a frame) failed CI on a loaded host. A frame that never comes still fails the test."""

    async def connect(self, timeout=10):
        return await super().connect(timeout)

    async def receive_from(self, timeout=10):
        return await super().receive_from(timeout)


def socket_to(application, path, headers=None) -> WebsocketCommunicator:
    """A test websocket that is disconnected when the test ends, as a real server disconnects
    the application when the browser goes away. Left open, its consumer would be cancelled
    with the test's event loop, and a Redis channel layer can hang on that cancellation."""
    communicator = PatientCommunicator(application, path, headers=headers)
    _open_sockets.append(communicator)
    return communicator


@pytest.fixture(autouse=True)
async def sockets_disconnected_after_each_test():
    yield
    while _open_sockets:
        communicator = _open_sockets.pop()
        if not communicator.future.done():
            with contextlib.suppress(Exception):  # the test has passed or failed already
                await communicator.disconnect()
    await close_provider()  # the model client of this test's event loop
    await fanout.close()  # ...and its Redis connections


class Tab:
    """One browser tab's websocket, with helpers to await frames."""

    def __init__(self, user, session_id):
        app = URLRouter(websocket_urlpatterns)
        self.communicator = socket_to(app, f"/ws/sessions/{session_id}/")
        self.communicator.scope["user"] = user
        self.frames: list[str] = []

    async def connect(self):
        connected, code = await self.communicator.connect()
        return connected, code

    async def close_code(self, timeout=5.0) -> int | None:
        """The code the server closed this socket with (it accepts first, then closes); frames
        sent before the close (a reply's last words) are skipped."""
        async with asyncio.timeout(timeout):
            while True:
                output = await self.communicator.receive_output(timeout)
                if output["type"] != "websocket.send":
                    break
        assert output["type"] == "websocket.close", output
        return output.get("code")

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


FINISHED = 'data-frame="reply-finished"'
FAILED = 'data-slot="retry"'
STREAMING = 'data-slot="streaming"'
DELTA = r'^\{"reply"'  # a streamed text delta (JSON)


async def mid_reply(user, session_id, fake, words=30, word_delay=0.01, **send) -> "Tab":
    """A tab whose message is being answered: the reply (`words` words, one every
    `word_delay` seconds) has begun to stream."""
    fake.enqueue(PlannedResponse(text=lorem_text(words), token_delay=word_delay))
    tab = Tab(user, session_id)
    await tab.connect()
    await tab.send(**send)
    await tab.until(DELTA)
    return tab


async def one_turn(user, session_id, message="Hallo", until=FINISHED) -> str:
    """A tab sends one message and waits for the frame `until` marks, and for every reply."""
    tab = Tab(user, session_id)
    await tab.connect()
    await tab.send(message=message)
    frame = await tab.until(until)
    await settle()
    await tab.close()
    return frame


def deltas(frames: list[str]) -> list[dict]:
    return [json.loads(frame) for frame in frames if frame.startswith('{"reply"')]


def streamed_text(frames: list[str]) -> str:
    """The text a page shows from these frames: each delta applied at its offset, as
    static/js/chat.js does (what a bubble already has is not appended again)."""
    text = ""
    for delta in deltas(frames):
        if delta["at"] <= len(text) < delta["at"] + len(delta["text"]):
            text += delta["text"][len(text) - delta["at"] :]
    return text


async def settle():
    """Await every reply task this process is running."""
    while tasks := [reply.task for reply in replies.all_live() if reply.task]:
        await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture(autouse=True)
def fresh_chat_state():
    """Each test starts with a new channel layer (a Redis layer's locks are bound to the event
    loop that made them, and every test has its own loop) and no per-process chat state."""

    def reset():
        channel_layers.backends.clear()
        replies._live.clear()
        replies._turns_being_taken.clear()
        replies.accepting = True
        consumers._sockets_by_learner.clear()
        fanout._hubs.clear()
        replies._clocks.clear()
        signals._expired_untold_until = 0.0

    reset()
    yield
    reset()


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


def run_due_tasks() -> list[str]:
    """What the worker does, in this process: run each task that is due, once, until none is
    (a retry queued to run at once runs too); their outcomes."""
    outcomes = []
    while True:
        with acting_as_staff():
            due = list(DBTaskResult.objects.ready())
            for result in due:
                result.claim("test")
        if not due:
            return outcomes
        for result in due:
            queued = result.task_result
            outcome = queued.task.call(*queued.args, **queued.kwargs)
            with acting_as_staff():
                result.set_successful(outcome)
            outcomes.append(outcome)


def run_task_worker(**env) -> subprocess.CompletedProcess:
    """`manage.py task_worker` as it runs in production, until the queue is empty."""
    env = dict(os.environ, DATABASE_URL=database_url(), HTTPS="false", **env)
    return subprocess.run(
        [sys.executable, "manage.py", "task_worker", "--batch", "--no-startup-delay"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
