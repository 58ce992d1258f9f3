"""Chat sockets end with what they belong to: logging out closes that login's sockets, and
deactivating or deleting the account all of the learner's (4401); deleting a session closes
its sockets (4403) and stops its replies. A card kept anywhere is told to the learner's open
chat pages, which draw copies of its line as in the deck."""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from chat.consumers import learner_group, login_group
from chat.replies import group_name as session_group
from learning.models import Card
from scenarios.models import Session


def _end_sockets(group: str) -> None:
    async_to_sync(get_channel_layer().group_send)(group, {"type": "login.ended"})


@receiver(user_logged_out)
def _close_sockets_of_this_login(sender, request, user, **kwargs):
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key:
        group = login_group(session_key)
        transaction.on_commit(lambda: _end_sockets(group))


@receiver(post_save, sender=get_user_model())
def _close_sockets_of_a_deactivated_learner(sender, instance, update_fields=None, **kwargs):
    """Deactivated, or a new password (a reset ends every login, as Django's session check
    does for pages at their next request)."""
    if not instance.is_active or (update_fields and "password" in update_fields):
        group = learner_group(instance.pk)
        transaction.on_commit(lambda: _end_sockets(group))


@receiver(post_delete, sender=get_user_model())
def _close_sockets_of_a_deleted_learner(sender, instance, **kwargs):
    group = learner_group(instance.pk)
    transaction.on_commit(lambda: _end_sockets(group))


@receiver(post_delete, sender=Session)
def _end_a_deleted_sessions_chat(sender, instance, **kwargs):
    """Abandoned, replaced or deleted by staff: its replies stop and its pages are closed."""
    group = session_group(instance.pk)
    transaction.on_commit(
        lambda: async_to_sync(get_channel_layer().group_send)(group, {"type": "session.ended"})
    )


@receiver(post_save, sender=Card)
def _tell_open_chats_of_a_kept_card(sender, instance, created, **kwargs):
    if created:
        group, german = learner_group(instance.user_id), instance.german
        transaction.on_commit(
            lambda: async_to_sync(get_channel_layer().group_send)(
                group, {"type": "card.kept", "german": german}
            ),
            robust=True,  # the card is kept: a channel layer that is down must not undo that
        )
