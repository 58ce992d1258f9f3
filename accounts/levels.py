"""The learner's level: chosen at sign-up, changed on the account page or when starting a
scene; a session keeps the level it was played at."""

from accounts.models import GermanLevel, Profile
from lib.rls import acting_as_learner


def level_of(learner_id) -> str:
    with acting_as_learner(learner_id, savepoint=False):
        return Profile.objects.values_list("level", flat=True).get(pk=learner_id)


def set_level(learner_id, level: str) -> None:
    """Raises ValueError for anything but A1, A2 or B1."""
    level = GermanLevel(level)
    with acting_as_learner(learner_id):
        Profile.objects.filter(pk=learner_id).update(level=level)
