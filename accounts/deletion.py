"""Deleting a learner's account: the database cascades to profile, sessions and messages."""

from dataclasses import dataclass

from django.contrib.admin.models import LogEntry
from django.db.models import Count, F, Sum
from django.db.models.functions import Coalesce

from accounts.models import Profile, User
from eventlog.events import Event, log_event
from lib.rls import acting_as_auth, acting_as_learner

KEEPS_ADMIN_HISTORY = (
    "This staff account made changes in the admin: another staff member deactivates it (its"
    " Active box), so that the admin's history keeps who made them."
)


class KeepsAdminHistory(Exception):
    """A staff account with entries in the admin's history is deactivated, not deleted."""


def keeps_admin_history(user: User) -> bool:
    """Whether deleting the account would delete entries of the admin's history: Django deletes
    a staff member's entries with the account (LogEntry.user cascades), and who did what
    went with them (the attacker's recheck)."""
    return user.is_staff and LogEntry.objects.filter(user_id=user.pk).exists()


@dataclass(frozen=True)
class DeletedAccount:
    sessions: int
    messages: int


def what_goes_with(user_ids) -> DeletedAccount:
    """What the database deletes with these accounts (ON DELETE CASCADE: Django's collector
    cannot see it): their sessions, through the profiles' reverse relation, and the messages
    the sessions count."""
    totals = Profile.objects.filter(pk__in=user_ids).aggregate(
        session_count=Count("sessions"),
        message_count=Coalesce(
            Sum(F("sessions__message_count_main") + F("sessions__message_count_helper")), 0
        ),
    )
    return DeletedAccount(totals["session_count"], totals["message_count"])


def delete_account(user: User) -> DeletedAccount | None:
    """Delete the user row (CASCADE does the rest) and log `account_deleted`, without email;
    None if it was gone already (a second tab's delete logged a deletion of nothing: the
    attacker's replay); KeepsAdminHistory for a staff account that wrote the admin's history.
    Learners and staff in the admin alike. Triggers lock the learner's
    sessions first (the one lock order of their rows), keep the week's completions for the
    email (scenarios 0020) and take the email out of the admin's history (accounts 0008)."""
    learner_id = user.pk
    with acting_as_auth():
        if keeps_admin_history(user):
            raise KeepsAdminHistory(KEEPS_ADMIN_HISTORY)
    with acting_as_learner(learner_id):
        deleted = what_goes_with([learner_id])
    with acting_as_auth():  # accounts are maraum_auth's; the database cascades the rest
        _, by_model = User.objects.filter(pk=learner_id).delete()
    if not by_model.get(User._meta.label):
        return None
    with acting_as_learner(learner_id):
        log_event(
            Event.ACCOUNT_DELETED,
            user_id=learner_id,
            sessions_deleted=deleted.sessions,
            messages_deleted=deleted.messages,
        )
    return deleted
