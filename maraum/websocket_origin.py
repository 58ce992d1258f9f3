"""Websockets from the site's own pages only.

The Origin must be exactly the origin the browser reached the site at (scheme, host and port)
or one of CSRF_TRUSTED_ORIGINS: the rule Django's CSRF check applies to forms. Channels'
AllowedHostsOriginValidator compares host names only, so another port or scheme on the same
host (a dev server on :3000, plain http beside https) passed.
"""

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host


def is_own_origin(scope) -> bool:
    headers = dict(scope.get("headers") or [])
    origin = headers.get(b"origin", b"").decode("latin1").strip().lower()
    host = headers.get(b"host", b"").decode("latin1").strip().lower()
    domain, _ = split_domain_port(host)
    if not origin or not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    scheme = "https" if scope.get("scheme") == "wss" else "http"
    trusted = {trusted.lower().rstrip("/") for trusted in settings.CSRF_TRUSTED_ORIGINS}
    return origin == f"{scheme}://{host}" or origin in trusted


class SameOriginValidator:
    """ASGI middleware: refuse the websocket handshake (HTTP 403) from any other origin."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not is_own_origin(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
