"""System prompts: Markdown files in prompts/, each path overridable through the environment."""

import os
from functools import cache
from pathlib import Path
from string import Template

from django.conf import settings

HELPER = "helper"
CHARACTER_FALLBACK = "character_fallback"


def prompt_path(name: str) -> Path:
    """`prompts/<name>.md`, or the file named by PROMPT_<NAME>_PATH."""
    override = os.environ.get(f"PROMPT_{name.upper()}_PATH")
    return Path(override) if override else settings.PROMPTS_DIR / f"{name}.md"


@cache
def load_prompt(name: str) -> str:
    return prompt_path(name).read_text(encoding="utf-8").strip()


def has_prompt(name: str) -> bool:
    return prompt_path(name).is_file()


def character_prompt(scenario) -> str:
    """The scenario's own prompt file; a scenario staff added without one plays a generic
    character for its title rather than failing the turn."""
    if has_prompt(scenario.code):
        return load_prompt(scenario.code)
    return Template(load_prompt(CHARACTER_FALLBACK)).safe_substitute(
        title=scenario.title, opening=scenario.initial_message_main
    )
