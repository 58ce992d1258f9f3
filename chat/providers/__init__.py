"""Who writes the chat's replies: Anthropic's API with ANTHROPIC_API_KEY, the offline scripted
partner without. (The request and the errors: chat/providers/base.py.)"""

import asyncio
from typing import TYPE_CHECKING

from django.conf import settings

from chat.providers.base import (
    END_TOOL,
    GOAL_TOOL,
    InvalidAnswer,
    ModelError,
    OnRetry,
    OpenGoal,
    ReplyDone,
    ReplyRequest,
)
from chat.providers.offline import OfflineProvider

if TYPE_CHECKING:
    from chat.providers.anthropic import AnthropicProvider

__all__ = [
    "END_TOOL",
    "GOAL_TOOL",
    "InvalidAnswer",
    "ModelError",
    "OnRetry",
    "OpenGoal",
    "ReplyDone",
    "ReplyRequest",
    "close_provider",
    "get_provider",
    "is_offline",
]

_providers: dict = {}


def get_provider() -> "AnthropicProvider | OfflineProvider":
    """The provider for this configuration, one per event loop (the HTTP client is bound to it)."""
    if not settings.ANTHROPIC_API_KEY:
        return OfflineProvider()
    # Imported here: the SDK takes over a second to import, which commands and an offline
    # server need not pay (a server with a key has imported it as it started: maraum.asgi).
    from chat.providers.anthropic import AnthropicProvider

    key = (settings.ANTHROPIC_API_KEY, settings.ANTHROPIC_BASE_URL, id(asyncio.get_running_loop()))
    if key not in _providers:
        _providers.clear()
        _providers[key] = AnthropicProvider()
    return _providers[key]


async def close_provider() -> None:
    """Close this event loop's HTTP client: a loop that ends (a background task's, a test's)
    would otherwise leave its connections open."""
    loop_id = id(asyncio.get_running_loop())
    for key in [key for key in _providers if key[2] == loop_id]:
        await _providers.pop(key).client.close()


def is_offline() -> bool:
    return not settings.ANTHROPIC_API_KEY
