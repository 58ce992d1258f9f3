"""Deleting a learner's account: the database cascades to profile, sessions and messages."""

from dataclasses import dataclass

from django.db.models import Count

from accounts.models import User
from accounts.rls import acting_as_learner
from chat.models import Message
from eventlog.events import log_event
from eventlog.models import Event
from scenarios.models import Session


@dataclass(frozen=True)
class DeletedAccount:
    sessions: int
    messages: int


def delete_account(user: User) -> DeletedAccount:
    """Delete the user row (CASCADE does the rest) and log `account_deleted`, without email."""
    learner_id = user.pk
    with acting_as_learner(learner_id):
        sessions = Session.objects.filter(user_id=learner_id).aggregate(n=Count("id"))["n"]
        messages = Message.objects.filter(user_id=learner_id).aggregate(n=Count("id"))["n"]
        User.objects.filter(pk=learner_id).delete()
        log_event(
            Event.ACCOUNT_DELETED,
            user_id=learner_id,
            sessions_deleted=sessions,
            messages_deleted=messages,
        )
    return DeletedAccount(sessions, messages)
