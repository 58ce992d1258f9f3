"""A websocket's login: the Django session from its cookie and the user it belongs to, loaded
once; the frames the socket sends go straight to the server."""

import pytest
from django.conf import settings

from accounts.channels_auth import SessionAuthMiddlewareStack
from tests.support.logins import login_session_key

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


async def _seen_by_the_app(cookie: str | None):
    seen = {}

    async def app(scope, receive, send):
        seen["user"] = scope["user"]
        seen["send"] = send

    async def server_send(message):
        pass

    headers = [(b"cookie", cookie.encode())] if cookie else []
    scope = {"type": "websocket", "path": "/ws/", "headers": headers}
    await SessionAuthMiddlewareStack(app)(scope, None, server_send)
    return seen, server_send


async def test_a_socket_belongs_to_the_login_of_its_session_cookie(alice):
    from channels.db import database_sync_to_async

    key = await database_sync_to_async(login_session_key)(alice)
    seen, _ = await _seen_by_the_app(f"{settings.SESSION_COOKIE_NAME}={key}")
    assert seen["user"].is_authenticated and seen["user"].pk == alice.pk


async def test_a_socket_without_a_login_is_anonymous(db):
    seen, _ = await _seen_by_the_app(None)
    assert not seen["user"].is_authenticated
    seen, _ = await _seen_by_the_app(f"{settings.SESSION_COOKIE_NAME}=not-a-session")
    assert not seen["user"].is_authenticated


async def test_the_sockets_frames_go_straight_to_the_server(alice):
    # Channels' SessionMiddleware wrapped every frame sent, to save a changed session with an
    # HTTP response: work a chat socket never needs, 20 times a second per streaming reply.
    seen, server_send = await _seen_by_the_app(None)
    assert seen["send"] is server_send
