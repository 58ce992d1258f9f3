"""ASGI entry point for Daphne: HTTP through Django, websockets through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "maraum.settings")
django_asgi_app = get_asgi_application()

# Imported after Django is set up.
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from accounts.channels_auth import SessionAuthMiddlewareStack  # noqa: E402
from chat.routing import websocket_urlpatterns  # noqa: E402
from maraum.alive import answering_the_check  # noqa: E402
from maraum.websocket_origin import SameOriginValidator  # noqa: E402

if settings.ANTHROPIC_API_KEY:
    # The model SDK takes over a second to import: as the server starts, not in the event
    # loop during a learner's first turn, which would stall every socket meanwhile.
    import chat.providers.anthropic  # noqa: F401

application = ProtocolTypeRouter(
    {
        "http": answering_the_check(django_asgi_app),  # the balancer's check, then Django
        # Session-cookie authentication; a page from another origin cannot open the socket.
        "websocket": SameOriginValidator(
            SessionAuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
