"""What every provider of the chat's replies speaks: the request, the end of a reply, and the
errors. Both providers stream a reply as text chunks and end with a `ReplyDone`."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

END_TOOL = {
    "name": "end_scenario",
    "description": (
        "Call this when the scene has reached its natural end (after your goodbye). "
        "The app then closes the role-play."
    ),
    "input_schema": {
        "type": "object",
        "properties": {"reason": {"type": "string", "description": "Why the scene ends, briefly."}},
        "required": ["reason"],
    },
}


@dataclass(frozen=True)
class ReplyRequest:
    """Everything a provider needs for one reply."""

    chat: str  # Message.ChatType: "main" (the character) or "helper"
    scenario_code: str
    system: list[dict]
    messages: list[dict]
    turn: int  # learner messages so far in this chat, this one included
    final: bool = False  # the hard cap: this reply must close the scene
    tools: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class ReplyDone:
    ended: bool  # the character closed the scene (the end_scenario tool)
    usage: dict
    attempts: int


class ModelError(Exception):
    def __init__(
        self,
        reason: str,
        *,
        timeout: bool = False,
        retryable: bool = False,
        status: int | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(reason)
        self.reason, self.timeout, self.retryable = reason, timeout, retryable
        self.status, self.retry_after = status, retry_after


OnRetry = Callable[[int, float, ModelError], Awaitable[None]]
