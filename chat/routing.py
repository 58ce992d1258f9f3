from channels.generic.websocket import AsyncWebsocketConsumer
from django.urls import path, re_path

from chat.consumers import ChatConsumer


class NoSuchSocket(AsyncWebsocketConsumer):
    """Any other websocket path: the handshake is refused (HTTP 403), no error is raised."""

    async def connect(self):
        await self.close()


websocket_urlpatterns = [
    path("ws/sessions/<uuid:session_id>/", ChatConsumer.as_asgi()),
    re_path(r"", NoSuchSocket.as_asgi()),
]
