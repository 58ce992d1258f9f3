"""Ids typed or sent by people: an admin search box, a page's message id."""

from uuid import UUID


def parse_uuid(text) -> UUID | None:
    """The UUID `text` spells (any case, surrounding spaces allowed), or None."""
    if not isinstance(text, str):
        return None
    try:
        return UUID(text.strip())
    except ValueError:
        return None
