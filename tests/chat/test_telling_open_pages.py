"""A change that open chat pages are told of (chat/signals.py) is told once per request, and
the request does not wait on a channel layer that hangs: the change itself is what counts."""

import asyncio

import pytest
from django.test import Client

from chat.consumers import learner_group
from learning.models import Card
from lib.rls import acting_as_learner


class Layer:
    """A channel layer that takes messages and answers after `hang` seconds."""

    def __init__(self, hang: float = 0.0):
        self.hang, self.sent, self.cancelled = hang, [], []

    async def group_send(self, group, message):
        self.sent.append((group, message))
        try:
            await asyncio.sleep(self.hang)
        except asyncio.CancelledError:
            self.cancelled.append(group)
            raise


def keep(user, words):
    client = Client()
    client.force_login(user)
    return client.post("/deck/keep/", {"german": words}, headers={"HX-Request": "true"})


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_words_kept_in_one_request_are_told_in_one_message(alice, monkeypatch):
    """Each card was a message of its own: 20 round trips for a report's "Keep all"."""
    layer = Layer()
    monkeypatch.setattr("chat.signals.get_channel_layer", lambda: layer)

    response = keep(alice, ["Guten Morgen!", "bitte", "danke", "Bitte"])

    assert "Kept 3 new" in response.content.decode()
    message = {"type": "cards.kept", "german": ["Guten Morgen!", "bitte", "danke"]}
    assert layer.sent == [(learner_group(alice.pk), message)]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_keep_does_not_wait_on_a_channel_layer_that_hangs(alice, settings, monkeypatch):
    """A Redis that accepted connections and never answered held a keep for 60 s a card;
    the balancer gave up with a 504 though the cards were kept."""
    settings.CHANNEL_LAYER_SEND_TIMEOUT = 0.05
    layer = Layer(hang=10)
    monkeypatch.setattr("chat.signals.get_channel_layer", lambda: layer)

    response = keep(alice, ["Guten Morgen!", "bitte"])

    assert response.status_code == 200
    assert layer.cancelled == [learner_group(alice.pk)]  # given up on, not waited out
    with acting_as_learner(alice.pk):
        assert sorted(Card.objects.values_list("german", flat=True)) == ["Guten Morgen!", "bitte"]
