"""The offline partner, for running without an API key: the same streaming, scripted lines."""

import asyncio
import re
from collections.abc import AsyncIterator

from django.conf import settings

from chat.models import Message
from chat.providers.base import OnRetry, ReplyDone, ReplyRequest
from scenarios.models import pattern_matches


class OfflineProvider:
    """A scripted partner for running without an API key: the same streaming, canned lines.

    The character plays the scenario's offline script in order, one line per learner turn,
    and closes the scene with the last line, early once every goal is reached or when the
    scene's length says so (as the model is told to); a goal is reached when the learner's
    message matches its pattern. The helper cycles through the
    scenario's tips, each after a note that it cannot read what it was asked.
    """

    name = "offline"

    async def stream(
        self, request: ReplyRequest, on_retry: OnRetry
    ) -> AsyncIterator[str | ReplyDone]:
        goals: tuple[int, ...] = ()
        if request.chat == Message.ChatType.MAIN:
            lines = request.script or (FALLBACK_LINE,)
            # Off the event loop: each pattern may take up to its time limit.
            goals = await asyncio.to_thread(_goals_reached, request)
            # The scene's last goal reached (its goodbye, say), the character closes it: it
            # played on to its script's end (a newcomer's walk).
            last_goal = bool(request.open_goals) and len(goals) == len(request.open_goals)
            if request.closing or last_goal:
                index = len(lines) - 1
            else:
                index = min(request.turn, len(lines)) - 1
            text, ended = lines[index], index == len(lines) - 1
        else:
            tips = request.tips or (FALLBACK_TIP,)
            text, ended = tips[(request.turn - 1) % len(tips)], False
            # Said every time: a tip with no word on why answered a question about something
            # else (a newcomer's walk).
            about_a_line = request.learner_text.startswith(
                ("Check my German:", "Explain this line:")
            )
            text = f"{CANNOT_READ_LINE if about_a_line else CANNOT_READ_QUESTION} {text}"
        for position, word in enumerate(re.findall(r"\S+\s*", text)):
            if position and settings.OFFLINE_TOKEN_DELAY:
                await asyncio.sleep(settings.OFFLINE_TOKEN_DELAY)
            yield word
        yield ReplyDone(ended=ended, usage={}, attempts=1, goals_reached=goals)


def _goals_reached(request: ReplyRequest) -> tuple[int, ...]:
    return tuple(
        goal.number
        for goal in request.open_goals
        if pattern_matches(goal.pattern, request.learner_text)
    )


CANNOT_READ_LINE = (
    "(Offline mode: without the model I cannot read your line, so here is a tip instead.)"
)
CANNOT_READ_QUESTION = (
    "(Offline mode: without the model I cannot read your question, so here is a tip instead.)"
)

# Only for a scenario played while it lacks its script (an active one never does).
FALLBACK_LINE = "Danke, das war schön! Auf Wiedersehen!"
FALLBACK_TIP = "Try a short sentence in German; I'll help you with the words."
