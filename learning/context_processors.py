from django.utils.functional import SimpleLazyObject

from learning import deck


def cards_due(request) -> dict:
    """How many cards are due, for the navigation and the picker: counted only where a page
    shows it."""
    user = getattr(request, "user", None)
    if not (user and user.is_authenticated):
        return {}
    return {"cards_due": SimpleLazyObject(lambda: deck.count_due(user.pk))}
