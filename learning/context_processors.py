from learning import deck


class DueCount:
    """How many cards are due, counted the first time a page shows it (most never do)."""

    def __init__(self, learner_id):
        self.learner_id, self.value = learner_id, None

    def _count(self) -> int:
        if self.value is None:
            self.value = deck.count_due(self.learner_id)
        return self.value

    def __int__(self) -> int:
        return self._count()

    def __float__(self) -> float:  # for |pluralize
        return float(self._count())

    def __bool__(self) -> bool:
        return self._count() > 0

    def __str__(self) -> str:
        return str(self._count())


def cards_due(request) -> dict:
    user = getattr(request, "user", None)
    if not (user and user.is_authenticated):
        return {}
    return {"cards_due": DueCount(user.pk)}
