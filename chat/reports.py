"""The report on a completed scene: asked for when the scene completes, written by a
background task (chat/tasks.py) from the transcript, by the model through the same provider
path as every reply (or, offline or once today's model calls are spent, built without one),
validated before it is stored, and then never changed.

The model answers with one call of the `scene_report` tool; its input is checked against
`ReportContent`. A malformed report is asked for again; after REPORT_ATTEMPTS it is stored as
failed (the page says so), never shown broken.
"""

from typing import Literal

from django.conf import settings
from django.db.models import F
from django.db.models.functions import Now
from pydantic import BaseModel, Field, ValidationError, model_validator

from chat import goals, messages
from chat.models import Message, SceneReport
from chat.providers import InvalidAnswer, ReplyRequest
from learning import deck
from lib.rls import acting_as_staff
from lib.text import as_typed_and_with_umlauts, unprintable
from scenarios.models import Session
from scenarios.prompts import level_prompt, load_prompt

REPORT_ATTEMPTS = 3
Short = Field(min_length=1, max_length=400)


class GoalOutcome(BaseModel):
    goal: int = Field(ge=1, le=10)
    reached: bool
    how: str = Field(max_length=400)


class Correction(BaseModel):
    wrote: str = Short
    better: str = Short
    why: str = Short
    right: str = Field(default="", max_length=400)


# A report's words at most, within what one "Keep all" may keep (deck.MAX_WORDS_PER_KEEP).
MOST_WORDS = 12


def words_to_keep(content: dict | None) -> list[dict]:
    """A report's words as its page offers them to keep: as the deck holds them ("geht\u2019s"
    as "geht's", so the page marks its lines when one is kept), each once, and only those a
    card can hold (one that drew nothing made the whole "Keep all" refused: the attacker's
    recheck)."""
    offered: dict[str, dict] = {}
    for word in (content or {}).get("words") or []:
        german = deck.as_word(str(word.get("german", "")))
        if deck.keepable(german):
            offered.setdefault(german.lower(), {**word, "german": german, "gloss": _gloss(word)})
    return list(offered.values())


def _gloss(word: dict) -> str:
    """A report word's meaning as a card holds it; none where a card could not hold it (the
    model's zero-width space was refused, and with it the whole "Keep all": the attacker's
    replay). The learner writes one, or the meanings task gives one."""
    try:
        return deck.as_meaning(str(word.get("gloss", "")))
    except ValueError:
        return ""


class Word(BaseModel):
    german: str = Field(min_length=1, max_length=120)
    gloss: str = Field(min_length=1, max_length=200)


class LevelEstimate(BaseModel):
    level: Literal["A1", "A2", "B1", "B2"]
    note: str = Field(max_length=400)


class ReportContent(BaseModel):
    goals: list[GoalOutcome] = Field(max_length=10)
    corrections: list[Correction] = Field(max_length=5)
    words: list[Word] = Field(max_length=MOST_WORDS)
    tip: str = Field(min_length=1, max_length=600)
    level_estimate: LevelEstimate

    @model_validator(mode="after")
    def printable(self):
        # NUL cannot be stored at all, and control characters are nobody's German.
        if any(unprintable(text) for text in _texts(self.model_dump())):
            raise ValueError("unprintable characters")
        return self


def _texts(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


REPORT_TOOL = {
    "name": "scene_report",
    "description": "The report on the learner's finished scene.",
    "input_schema": ReportContent.model_json_schema(),
}


class InvalidReport(InvalidAnswer):
    """The model's report did not match the schema (or there was none)."""

    reason = "invalid_report"


def validated(tool_input: dict | None) -> dict:
    if tool_input is None:
        raise InvalidReport("no scene_report call")
    try:
        return ReportContent.model_validate(tool_input).model_dump()
    except ValidationError as error:
        raise InvalidReport(f"{error.error_count()} problem(s)") from error


# --- writing it (in the task) ---------------------------------------------------------------


def pending_report(session_id) -> tuple[Session, list[Message], list] | None:
    """What the report is written from, or None when it is written already."""
    with acting_as_staff():
        if not SceneReport.objects.filter(
            session_id=session_id, status=SceneReport.Status.PENDING
        ).exists():
            return None
        session = Session.objects.select_related("scenario", "user").get(pk=session_id)
        # Being written from now: the page asks again only once this is stale.
        SceneReport.objects.filter(session_id=session_id).update(
            attempts=F("attempts") + 1, requested_at=Now()
        )
        return session, messages.of_session(session_id), goals.goal_states(session_id)


def report_request(session: Session, history: list[Message], states) -> ReplyRequest:
    scenario = session.scenario
    name = scenario.character_name or "Character"
    transcript = "\n".join(
        f"{'Learner' if m.from_learner else name}: {m.content}"
        for m in messages.in_chat(history, Message.ChatType.MAIN)
    )
    questions = "\n".join(
        f"- {m.content}"
        for m in messages.in_chat(history, Message.ChatType.HELPER)
        if m.from_learner
    )
    goal_list = "\n".join(
        f"{s.number}. {s.goal.text} ({'ticked' if s.reached else 'not ticked'})" for s in states
    )
    text = (
        f"Scene: {scenario.title}, with {name}. Level chosen: {session.level}.\n\n"
        f"Goals:\n{goal_list or '(none)'}\n\n<transcript>\n{transcript}\n</transcript>\n\n"
        f"Questions the learner asked the helper:\n{questions or '(none)'}"
    )
    return ReplyRequest(
        chat=Message.ChatType.HELPER,
        scenario_code=scenario.code,
        system=[
            {"type": "text", "text": load_prompt("report"), "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": level_prompt(session.level, for_helper=True)},
        ],
        messages=[{"role": "user", "content": [{"type": "text", "text": text}]}],
        turn=1,
        tools=[REPORT_TOOL],
        tool_choice={"type": "tool", "name": REPORT_TOOL["name"]},
        max_tokens=settings.REPORT_MAX_TOKENS,
        first_token_timeout=settings.MODEL_TIMEOUT,
    )


def offline_report(session: Session, history: list[Message], states) -> dict:
    """Without a model: the goals, the scene's words the learner used in the role-play (not in
    questions to the helper, which quote the character's lines), the helper questions."""
    said = [m.content for m in messages.in_chat(history, Message.ChatType.MAIN) if m.from_learner]
    used = [
        entry
        for entry in session.scenario.vocabulary
        if any(
            deck.found_in(entry["german"], spelling)
            for line in said
            for spelling in as_typed_and_with_umlauts(line)  # "Doener" is "der Döner"
        )
    ]
    return {
        "goals": [
            {"goal": s.number, "text": s.goal.text, "reached": s.reached, "how": ""} for s in states
        ],
        # Staff's list may be long: with more than 20 used, "Keep all" was refused as too much
        # (the attacker's replay).
        "words": with_example_lines(used[:MOST_WORDS], session, history),
        # Each once: "Check my German" pressed twice on a line was listed twice (a newcomer's
        # walk).
        "questions": list(
            dict.fromkeys(
                m.content
                for m in messages.in_chat(history, Message.ChatType.HELPER)
                if m.from_learner
            )
        ),
    }


def with_example_lines(words: list[dict], session: Session, history: list[Message]) -> list[dict]:
    """Each word with the line a card of it takes as its example, where there is one: the
    character's first line in the role-play using it, else the scene's own (its offline
    script). Cards from a report had none (a newcomer's walk); then, the learner's line
    taught its mistake ("Was kostet die Erdbeeren?") on every review (the next walk): a
    learner's line is not one."""
    character = [
        m.content
        for m in messages.in_chat(history, Message.ChatType.MAIN)
        if m.role == Message.Role.SCENARIO
    ]
    script = (
        session.scenario.offline_lines if isinstance(session.scenario.offline_lines, list) else []
    )
    lines = [*character, *(line for line in script if isinstance(line, str))]
    with_lines = []
    for word in words:
        line = next((line for line in lines if deck.found_in(word["german"], line)), None)
        with_lines.append({**word, "line": line[: deck.MAX_EXAMPLE_LENGTH]} if line else word)
    return with_lines


def store(session_id, content: dict | None, kind: str) -> bool:
    """Write the report once (the first writer wins); None stores it as failed."""
    status = SceneReport.Status.FAILED if content is None else SceneReport.Status.READY
    with acting_as_staff():
        return bool(
            SceneReport.objects.filter(
                session_id=session_id, status=SceneReport.Status.PENDING
            ).update(status=status, content=content, kind=kind, finished_at=Now())
        )


def with_goal_texts(content: dict, states) -> dict:
    """Every goal of the scene, in order, with its text, reached as the chat marked it: the
    page's checklist and the completion's count say so, and a report that said "not reached"
    of a goal ticked there, or left goals out, contradicted them (a newcomer's walk). The
    model's word on how is kept where it agrees; each goal once (a goal named twice was shown
    twice, reached and not: the attacker's replay)."""
    said: dict = {}
    for outcome in content.get("goals", []):
        said.setdefault(outcome["goal"], outcome)
    content["goals"] = [
        {
            "goal": state.number,
            "text": state.goal.text,
            "reached": state.reached,
            "how": said[state.number]["how"]
            if state.number in said and said[state.number]["reached"] == state.reached
            else "",
        }
        for state in sorted(states, key=lambda state: state.number)
    ]
    return content
