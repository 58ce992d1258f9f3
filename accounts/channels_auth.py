"""Who a websocket belongs to: Channels' session authentication, loading the session and the
user as maraum_auth (lib/rls.py), the one role with access to sessions and accounts."""

from channels.auth import AuthMiddleware, get_user
from channels.db import database_sync_to_async
from channels.sessions import CookieMiddleware, SessionMiddleware

from lib.rls import acting_as_auth


def _load_user(scope):
    with acting_as_auth():
        return get_user.func(scope)  # Channels' own lookup, without its thread hop


# On a pool thread, as chat.replies.in_db: the default (one thread shared by every socket)
# queued each handshake behind all the others, and under load they timed out unanswered.
_user_of = database_sync_to_async(_load_user, thread_sensitive=False)


class AuthRoleMiddleware(AuthMiddleware):
    async def resolve_scope(self, scope):
        scope["user"]._wrapped = await _user_of(scope)


def SessionAuthMiddlewareStack(inner):
    return CookieMiddleware(SessionMiddleware(AuthRoleMiddleware(inner)))
