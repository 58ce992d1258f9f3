"""Chat sockets end with what they belong to: logging out closes that login's sockets, and
deactivating or deleting the account all of the learner's (4401); a new password closes them
all too, to connect again, which only the login that chose it can (4011); deleting a session
closes its sockets (4403) and stops its replies. Cards kept in a request are told to the learner's
open chat pages, which draw their lines as in the deck, and those kept without a meaning get
one asked for (chat.tasks.gloss_cards).

Each is a message to a channel-layer group, sent once the change is committed and waited for
at most CHANNEL_LAYER_SEND_TIMEOUT: a Redis that hangs or is down must not hold or fail the
request that made the change (a keep waited 60 s for each card and the balancer gave up). One
that could not be sent is tried again in the background every SEND_AGAIN_EVERY seconds for up
to SEND_AGAIN_FOR; every chat frame checks the login itself meanwhile."""

import asyncio
import logging
import time

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from chat import tasks
from chat.consumers import learner_group, login_group
from chat.replies import group_name as session_group
from learning.deck import cards_kept
from scenarios.lifecycle import sessions_expired
from scenarios.models import Session

logger = logging.getLogger(__name__)


def _tell_on_commit(group: str, message: dict) -> None:
    transaction.on_commit(lambda: async_to_sync(_tell)(group, message))


SEND_AGAIN_EVERY = 1.0  # seconds between tries of a message that could not be sent
SEND_AGAIN_FOR = 300.0  # seconds it is tried again, at most
_sending_again: set[asyncio.Task] = set()


async def _tell(group: str, message: dict) -> None:
    if await _sent(group, message):
        return
    # Given up, a log-out sent while Redis hung or was away left the learner's pages open,
    # still receiving the session's messages (found by the recheck replay): it is sent again,
    # from this process's event loop, until it goes through.
    task = asyncio.get_running_loop().create_task(_tell_again(group, message))
    _sending_again.add(task)
    task.add_done_callback(_sending_again.discard)


async def _sent(group: str, message: dict) -> bool:
    try:
        async with asyncio.timeout(settings.CHANNEL_LAYER_SEND_TIMEOUT):
            await get_channel_layer().group_send(group, message)
    except Exception as error:  # TimeoutError too
        logger.warning("a %s message was not sent: %s", message["type"], type(error).__name__)
        return False
    return True


async def _tell_again(group: str, message: dict) -> None:
    loop = asyncio.get_running_loop()
    give_up_at = loop.time() + SEND_AGAIN_FOR
    while loop.time() < give_up_at:
        await asyncio.sleep(SEND_AGAIN_EVERY)
        if await _sent(group, message):
            logger.warning("a %s message was sent after all", message["type"])
            return
    logger.warning("a %s message was given up", message["type"])


@receiver(user_logged_out)
def _close_sockets_of_this_login(sender, request, user, **kwargs):
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key:
        _tell_on_commit(login_group(session_key), {"type": "login.ended"})


@receiver(pre_save, sender=get_user_model())
def _remember_the_password(sender, instance, update_fields=None, **kwargs):
    """A saved user's password as it was, for the check below (one query, for the rare saves
    that may change it: the admin's, a reset; not a login's `last_login`)."""
    if instance._state.adding or (update_fields is not None and "password" not in update_fields):
        return
    found = sender.objects.filter(pk=instance.pk).values_list("password", flat=True)
    instance._password_before_save = found.first()


@receiver(post_save, sender=get_user_model())
def _close_sockets_of_a_deactivated_learner(sender, instance, created=False, **kwargs):
    """Deactivated, or a new password, or none (a reset ends every login, as Django's session
    check does for pages at their next request). Compared with the password before the save:
    the admin saves the whole user, and "disable password-based authentication" sets no new
    password of its own, so neither `update_fields` nor `set_password()` told (the ops replay
    and its recheck)."""
    if created:  # no socket yet
        return
    before = getattr(instance, "_password_before_save", instance.password)
    if not instance.is_active:
        _tell_on_commit(learner_group(instance.pk), {"type": "login.ended"})
    elif before != instance.password:
        _tell_on_commit(learner_group(instance.pk), {"type": "password.changed"})


@receiver(post_delete, sender=get_user_model())
def _close_sockets_of_a_deleted_learner(sender, instance, **kwargs):
    _tell_on_commit(learner_group(instance.pk), {"type": "account.deleted"})


@receiver(post_delete, sender=Session)
def _end_a_deleted_sessions_chat(sender, instance, **kwargs):
    """Abandoned, replaced or deleted by staff: its replies stop and its pages are closed."""
    _tell_on_commit(session_group(instance.pk), {"type": "session.ended"})


@receiver(sessions_expired)
def _end_expired_sessions_chats(sender, session_ids, **kwargs):
    """`cleanup` deleted them in SQL: their open tabs close. Told once, all at once, within
    one CHANNEL_LAYER_SEND_TIMEOUT; a tab missed (Redis away, or the in-memory layer of
    another process) closes at its next frame instead. After a failure nothing is sent for
    EXPIRED_UNTOLD_FOR: with Redis hanging, a backlog's every batch waited the whole timeout
    (a second a batch; the attacker's replay)."""
    global _expired_untold_until
    if time.monotonic() < _expired_untold_until:
        return
    groups = [session_group(pk) for pk in session_ids]
    if not async_to_sync(_tell_all)(groups, {"type": "session.ended"}):
        _expired_untold_until = time.monotonic() + EXPIRED_UNTOLD_FOR
        logger.warning(
            "the tabs of sessions expired in the next %.0f s are not told either: they close"
            " at their next frame",
            EXPIRED_UNTOLD_FOR,
        )


EXPIRED_UNTOLD_FOR = 60.0  # seconds
_expired_untold_until = 0.0  # by time.monotonic()


async def _tell_all(groups: list[str], message: dict) -> bool:
    layer = get_channel_layer()
    # Ten at a time: 500 at once took 500 of Redis's pooled connections (0.1 s for 500 here).
    ten_at_a_time = asyncio.Semaphore(10)

    async def tell(group: str) -> None:
        async with ten_at_a_time:
            await layer.group_send(group, message)

    try:
        async with asyncio.timeout(settings.CHANNEL_LAYER_SEND_TIMEOUT):
            await asyncio.gather(*(tell(group) for group in groups))
    except Exception as error:  # TimeoutError too
        logger.warning(
            "%s %s messages were not all sent: %s",
            len(groups),
            message["type"],
            type(error).__name__,
        )
        return False
    return True


@receiver(cards_kept)
def _tell_open_chats_of_kept_cards(sender, learner_id, words, **kwargs):
    _tell_on_commit(learner_group(learner_id), {"type": "cards.kept", "german": list(words)})


@receiver(cards_kept)
def _ask_for_the_meanings_of_kept_cards(sender, learner_id, card_ids_without_gloss, **kwargs):
    if card_ids_without_gloss:
        tasks.ask_for_meanings(learner_id, list(card_ids_without_gloss))
