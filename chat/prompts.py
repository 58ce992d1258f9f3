"""System prompts: Markdown files in prompts/, each path overridable through the environment."""

import os
from functools import cache
from pathlib import Path

from django.conf import settings

HELPER = "helper"


def prompt_path(name: str) -> Path:
    """`prompts/<name>.md`, or the file named by PROMPT_<NAME>_PATH."""
    override = os.environ.get(f"PROMPT_{name.upper()}_PATH")
    return Path(override) if override else settings.PROMPTS_DIR / f"{name}.md"


@cache
def load_prompt(name: str) -> str:
    return prompt_path(name).read_text(encoding="utf-8").strip()
