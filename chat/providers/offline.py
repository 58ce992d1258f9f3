"""The offline partner, for running without an API key: the same streaming, scripted lines."""

import asyncio
import json
import re
from collections.abc import AsyncIterator
from functools import cache

from django.conf import settings

from chat.models import Message
from chat.providers.base import OnRetry, ReplyDone, ReplyRequest


class OfflineProvider:
    """A scripted partner for running without an API key: the same streaming, canned lines.

    The character plays prompts/offline/<scenario>.json in order, one line per learner turn, and
    closes the scene with the last line; the helper cycles through tips for the scenario.
    """

    name = "offline"

    async def stream(
        self, request: ReplyRequest, on_retry: OnRetry
    ) -> AsyncIterator[str | ReplyDone]:
        if request.chat == Message.ChatType.MAIN:
            lines = _offline_lines(request.scenario_code)
            index = len(lines) - 1 if request.final else min(request.turn, len(lines)) - 1
            text, ended = lines[index], index == len(lines) - 1
        else:
            tips = _offline_tips(request.scenario_code)
            text, ended = tips[(request.turn - 1) % len(tips)], False
        for position, word in enumerate(re.findall(r"\S+\s*", text)):
            if position and settings.OFFLINE_TOKEN_DELAY:
                await asyncio.sleep(settings.OFFLINE_TOKEN_DELAY)
            yield word
        yield ReplyDone(ended=ended, usage={}, attempts=1)


@cache
def _offline_file(name: str) -> dict:
    path = settings.PROMPTS_DIR / "offline" / f"{name}.json"
    return json.loads(path.read_text("utf-8")) if path.is_file() else {}


def _offline_lines(scenario_code: str) -> list[str]:
    """The scenario's scripted lines; a scenario without a script plays the generic one."""
    return _offline_file(scenario_code).get("lines") or _offline_file("generic")["lines"]


def _offline_tips(scenario_code: str) -> list[str]:
    return _offline_file("helper").get(scenario_code) or _offline_file("generic")["tips"]
