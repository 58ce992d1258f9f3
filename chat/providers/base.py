"""What every provider of the chat's replies speaks: the request, the end of a reply, and the
errors. Both providers stream a reply as text chunks and end with a `ReplyDone`."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

END_TOOL = {
    "name": "end_scenario",
    "description": (
        "Call this when the scene has reached its natural end: with your last word, once the "
        "learner has answered your goodbye or said goodbye first. The app then closes the "
        "role-play."
    ),
    "input_schema": {
        "type": "object",
        "properties": {"reason": {"type": "string", "description": "Why the scene ends, briefly."}},
        "required": ["reason"],
    },
}


GOAL_TOOL = {
    "name": "reach_goal",
    "description": (
        "Call this when the learner's own latest message achieves one of the scene's open "
        "goals (by its number), in the same turn as your spoken reply. Once per goal."
    ),
    "input_schema": {
        "type": "object",
        "properties": {"goal": {"type": "integer", "description": "The goal's number."}},
        "required": ["goal"],
    },
}


@dataclass(frozen=True)
class OpenGoal:
    """A goal (one not reached yet, in `open_goals`): its number, and the pattern the offline
    partner matches."""

    number: int
    pattern: str


@dataclass(frozen=True)
class ReplyRequest:
    """Everything a provider needs for one reply."""

    chat: str  # Message.ChatType: "main" (the character) or "helper"
    scenario_code: str
    system: list[dict]
    messages: list[dict]
    turn: int  # learner messages so far in this chat, this one included
    closing: bool = False  # the scene's length says this reply closes it (prompting.stage)
    last_reply: bool = False  # ...and that no full exchange fits after it ("final")
    tools: list[dict] = field(default_factory=list)
    # For the offline partner: the learner's message (and, in the role-play, every one since
    # the character's last line), the scene's open goals and its script.
    learner_text: str = ""
    unanswered: tuple[str, ...] = ()
    open_goals: tuple[OpenGoal, ...] = ()
    reached_goals: tuple[OpenGoal, ...] = ()  # asked again, their answer is said again
    # Which goal each number meant when this request was built (number → goal id): a goal
    # staff delete meanwhile must not shift the numbers of the others.
    goal_ids: tuple[tuple[int, int], ...] = ()
    script: tuple[str, ...] = ()
    # Which goal each line of the script asks for: (line index, goal number) pairs.
    script_asks: tuple[tuple[int, int], ...] = ()
    # Which line answers which goal: (line index, goal number, go on after it) triples.
    script_answers: tuple[tuple[int, int, bool], ...] = ()
    tips: tuple[str, ...] = ()
    character_line: str = ""  # the helper's: the role-play's last line, for the offline tip
    vocabulary: tuple[tuple[str, str], ...] = ()  # the scene's word list: (german, gloss)
    tool_choice: dict | None = None  # e.g. the report: {"type": "tool", "name": "scene_report"}
    max_tokens: int | None = None  # default: the chat's setting
    # A reply that is one tool call streams no text: its whole call must fit in this.
    first_token_timeout: float | None = None  # default: MODEL_FIRST_TOKEN_TIMEOUT


@dataclass(frozen=True)
class ReplyDone:
    ended: bool  # the character closed the scene (the end_scenario tool)
    usage: dict
    attempts: int
    goals_reached: tuple[int, ...] = ()  # the numbers of the goals the reply marked reached
    tool_inputs: dict = field(default_factory=dict)  # other tools' input, by tool name


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


class InvalidAnswer(Exception):
    """A tool call that does not match what was asked for (or none): logged as `reason`."""

    reason = "invalid_answer"


OnRetry = Callable[[int, float, ModelError], Awaitable[None]]
