"""Meanings for cards kept without one: a chat line, or words selected in one (a report's
words come with theirs). Once a request's cards are kept, a background task (chat/tasks.py)
asks the model for them, one call for the request's cards through the same provider path as
every reply, and stores each meaning on its card unless the card has one by then. Offline, or
with the day's model calls spent, the cards stay without one (the review page says so)."""

from django.conf import settings
from pydantic import BaseModel, Field, ValidationError, model_validator

from chat.models import Message
from chat.providers import InvalidAnswer, ReplyRequest
from learning.deck import MAX_WORDS_PER_KEEP
from learning.models import Card
from lib.text import unprintable
from scenarios.prompts import load_prompt

MAX_CARDS = MAX_WORDS_PER_KEEP  # one call for a keep request's cards


class Meaning(BaseModel):
    german: str = Field(min_length=1, max_length=300)
    gloss: str = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def printable(self):
        if unprintable(self.german) or unprintable(self.gloss):
            raise ValueError("unprintable characters")
        return self


class Meanings(BaseModel):
    glosses: list[Meaning] = Field(max_length=MAX_CARDS)


GLOSS_TOOL = {
    "name": "glosses",
    "description": "A short English meaning for each German word or line.",
    "input_schema": Meanings.model_json_schema(),
}


class InvalidGlosses(InvalidAnswer):
    """The model's answer did not match the schema (or there was none)."""

    reason = "invalid_glosses"


def gloss_request(cards: list[Card]) -> ReplyRequest:
    """The cards' words, each with the line it came from and its scene, for the tool call (on
    the helper's model, HELPER_MODEL: it is a helper's task)."""
    items = []
    for number, card in enumerate(cards, 1):
        item = f"{number}. <german>{card.german}</german>"
        if card.example:
            item += f"\n   from the line: <line>{card.example}</line>"
        if card.scenario:
            item += f"\n   in the scene: {card.scenario.title}"
        items.append(item)
    return ReplyRequest(
        chat=Message.ChatType.HELPER,
        scenario_code=cards[0].scenario.code if cards[0].scenario else "",
        system=[{"type": "text", "text": load_prompt("gloss")}],
        messages=[{"role": "user", "content": [{"type": "text", "text": "\n".join(items)}]}],
        turn=1,
        tools=[GLOSS_TOOL],
        tool_choice={"type": "tool", "name": GLOSS_TOOL["name"]},
        max_tokens=settings.GLOSS_MAX_TOKENS,
        first_token_timeout=settings.MODEL_TIMEOUT,
    )


def matched(cards: list[Card], tool_input: dict | None) -> dict[str, str]:
    """Each card's meaning from the tool call, by card id: matched by its German as the model
    wrote it back (compared without case or outer spaces); a card it left out gets none."""
    if tool_input is None:
        raise InvalidGlosses("no glosses call")
    try:
        meanings = Meanings.model_validate(tool_input).glosses
    except ValidationError as error:
        raise InvalidGlosses(f"{error.error_count()} problem(s)") from error
    by_german = {m.german.strip().casefold(): m.gloss.strip() for m in meanings}
    found = {str(card.pk): by_german.get(card.german.strip().casefold()) for card in cards}
    return {card_id: gloss for card_id, gloss in found.items() if gloss}
