"""Who a websocket belongs to: its login's Django session and user, loaded as maraum_auth
(lib/rls.py), the one role with access to sessions and accounts."""

import hashlib
import time
from dataclasses import dataclass
from importlib import import_module

from channels.auth import AuthMiddleware, get_user
from channels.db import database_sync_to_async
from channels.sessions import CookieMiddleware
from django.conf import settings

from lib.rls import acting_as_auth


class LoginSessionMiddleware:
    """The login's Django session in `scope["session"]`, loaded when first read. Channels' own
    SessionMiddleware also wraps every frame the socket sends, to save a changed session with
    an HTTP response; a chat socket never changes its session, and sends about 20 frames a
    second per streaming reply."""

    def __init__(self, inner):
        self.inner = inner
        self.session_store = import_module(settings.SESSION_ENGINE).SessionStore

    async def __call__(self, scope, receive, send):
        session_key = scope["cookies"].get(settings.SESSION_COOKIE_NAME)
        # Before the login is read: a change heard after it is one this socket may have missed.
        scope = dict(scope, session=self.session_store(session_key), login_read_at=time.monotonic())
        return await self.inner(scope, receive, send)


def _load_user(scope):
    with acting_as_auth():
        return get_user.func(scope)  # Channels' own lookup, without its thread hop


def _load_user_and_expiry(scope):
    """The socket's user, and when its login expires (seconds since the epoch; None without
    one): its sockets check it again then (chat.consumers)."""
    user = _load_user(scope)
    session_key = getattr(scope.get("session"), "session_key", None)
    if not (user.is_authenticated and session_key):
        return user, None
    return user, login_expires_at(SocketLogin(session_key, user.password))


def login_expires_at(login: "SocketLogin | None") -> float | None:
    from django.contrib.sessions.models import Session as Login

    if login is None:
        return None
    with acting_as_auth():
        found = Login.objects.filter(session_key=login.session_key).values_list("expire_date")
        expires = found.first()
    return expires[0].timestamp() if expires else None


@dataclass(frozen=True)
class SocketLogin:
    """A socket's login: its Django session's key and the account's password hash as the
    handshake checked them. It holds while both do: a password set where no notice reaches
    the server (the command line, a shell, SQL) left the other logins' sockets sending and
    receiving (the attacker's replay)."""

    session_key: str
    password: str

    @property
    def digest(self) -> str:
        """As `current_login_email_by_digest()` takes it (accounts 0011): a statement's text,
        which a server may log, holds no credential."""
        return ":".join(
            hashlib.sha256(part.encode()).hexdigest() for part in (self.session_key, self.password)
        )


def login_digest(login: SocketLogin | None) -> str | None:
    return login.digest if login else None


def password_replaced(user_id, login: SocketLogin | None) -> bool:
    """Whether the account is active with a password other than the one `login` was checked
    with."""
    from accounts.models import User

    if login is None:
        return False
    with acting_as_auth():
        active = User.objects.filter(pk=user_id, is_active=True)
        return active.exclude(password=login.password).exists()


def account_exists(user_id) -> bool:
    from accounts.models import User

    with acting_as_auth():
        return User.objects.filter(pk=user_id).exists()


def login_verified(session_key: str, user_id) -> bool:
    """Whether the login `session_key` is still `user_id`'s as Django checks a page's: its
    session exists and holds the hash of the account's password as it is now (a session
    that does not is flushed, as Django does)."""
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    user = _load_user({"session": store})
    return user.is_authenticated and str(user.pk) == str(user_id)


# On a pool thread, as chat.replies.in_db: the default (one thread shared by every socket)
# queued each handshake behind all the others, and under load they timed out unanswered.
_user_and_expiry_of = database_sync_to_async(_load_user_and_expiry, thread_sensitive=False)


class AuthRoleMiddleware(AuthMiddleware):
    async def resolve_scope(self, scope):
        scope["user"]._wrapped, scope["login_expires_at"] = await _user_and_expiry_of(scope)


def SessionAuthMiddlewareStack(inner):
    return CookieMiddleware(LoginSessionMiddleware(AuthRoleMiddleware(inner)))
