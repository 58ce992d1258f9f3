from datetime import timedelta

from django.db import models
from django.db.models.functions import Lower, Now
from django.utils import timezone

from accounts.models import Profile
from lib.postgres import DatabaseForeignKey, RandomUUIDPrimaryKey
from scenarios.models import Scenario


class Card(models.Model):
    """A German word or phrase the learner keeps, with when to see it again (FSRS)."""

    # Longer than a meanings task's longest run (the provider's tries of MODEL_TIMEOUT) after
    # a wait in the queue: a meaning asked for longer ago is not coming.
    MEANING_WAIT = timedelta(minutes=10)

    id = RandomUUIDPrimaryKey()
    user = DatabaseForeignKey(Profile, related_name="cards")
    scenario = models.ForeignKey(
        Scenario, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    german = models.CharField(max_length=300)
    gloss = models.CharField(max_length=300, blank=True, default="")
    example = models.CharField(max_length=1000, blank=True, default="")
    # A helper answer's sentence is English around the German (read aloud as English).
    example_language = models.CharField(
        max_length=2, choices=[("de", "German"), ("en", "English")], default="de", db_default="de"
    )
    # When the model was asked for its meaning, until the meaning came or will not come.
    meaning_asked_at = models.DateTimeField(null=True, blank=True)
    due = models.DateTimeField(db_default=Now())
    fsrs = models.JSONField(default=dict, blank=True)  # the scheduler's card (fsrs.Card.to_dict)
    reviews = models.IntegerField(default=0, db_default=0)
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "deck_cards"
        constraints = [
            models.UniqueConstraint(
                "user",
                Lower("german"),
                name="deck_cards_one_per_word",
                violation_error_message="This is in your deck already.",
            ),
            models.CheckConstraint(
                condition=models.lookups.GreaterThan(
                    models.functions.Length(models.functions.Trim("german")), 0
                ),
                name="deck_cards_german_not_blank",
            ),
        ]
        indexes = [models.Index(fields=["user", "due"], name="idx_deck_cards_due")]

    def __str__(self) -> str:
        return self.german

    @property
    def is_due(self) -> bool:
        return self.due <= timezone.now()

    @property
    def meaning_on_its_way(self) -> bool:
        """No meaning yet, and one was asked for lately (a worker that is down never answers)."""
        asked = self.meaning_asked_at
        return not self.gloss and asked is not None and asked > timezone.now() - self.MEANING_WAIT


class RemovedCard(models.Model):
    """A card the learner removed, as it was, for Undo: the last few, for a day. In the
    database, not the login's session: two tabs removing at once each saved the session as it
    was before the other, and one removal could not be undone (the attacker's recheck)."""

    KEPT, FOR = 10, timedelta(days=1)

    card_id = models.UUIDField(primary_key=True)
    user = DatabaseForeignKey(Profile, related_name="+")
    card = models.JSONField()  # what learning.deck.put_back() needs
    removed_at = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "deck_removed_cards"
        indexes = [models.Index(fields=["user", "removed_at"], name="idx_deck_removed_cards")]

    def __str__(self) -> str:
        return self.card.get("german", "")
