"""System prompts: what every scene shares is Markdown in prompts/ (the character's rules, the
helper, the levels), each path overridable through the environment; what a scene is about is
the scenario's own data, authored by staff."""

import os
from functools import cache
from pathlib import Path

from django.conf import settings

from scenarios.models import Goal, Scenario

HELPER = "helper"
CHARACTER_RULES = "character_rules"


def prompt_path(name: str) -> Path:
    """`prompts/<name>.md`, or the file named by PROMPT_<NAME>_PATH (a slash in the name
    becomes an underscore: PROMPT_LEVELS_A1_PATH for levels/A1)."""
    override = os.environ.get(f"PROMPT_{name.upper().replace('/', '_')}_PATH")
    return Path(override) if override else settings.PROMPTS_DIR / f"{name}.md"


@cache
def load_prompt(name: str) -> str:
    return prompt_path(name).read_text(encoding="utf-8").strip()


HELPER_PART = "For the helper:"


def level_prompt(level: str, *, for_helper: bool = False) -> str:
    """The level's description: the character's part, or (for the helper) all of it; the
    helper's part starts with a line beginning "For the helper:"."""
    text = load_prompt(f"levels/{level}")
    if for_helper:
        return text
    return text.split(HELPER_PART, 1)[0].strip()


def character_prompt(scenario: Scenario, level: str, goals: list[Goal]) -> str:
    """The character's whole system prompt: the same for every turn of a session (the goals'
    states ride in the conversation), so the API caches it."""
    goal_list = "\n".join(f"{number}. {goal.text}" for number, goal in enumerate(goals, 1))
    return "\n\n".join(
        [
            load_prompt(CHARACTER_RULES),
            level_prompt(level),
            f"# Your scene: {scenario.title}\n\n{_introduced(scenario)}",
            f"## The learner's goals in this scene\n\n{goal_list}",
        ]
    )


def _introduced(scenario: Scenario) -> str:
    """The brief, with the character's name first unless the brief starts with it."""
    brief = scenario.character_brief.strip()
    if scenario.character_name and scenario.character_name not in brief[:200]:
        return f"You are **{scenario.character_name}**.\n\n{brief}"
    return brief


def helper_prompt(level: str) -> str:
    return f"{load_prompt(HELPER)}\n\n{level_prompt(level, for_helper=True)}"
