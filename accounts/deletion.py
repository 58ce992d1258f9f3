"""Deleting a learner's account: the database cascades to profile, sessions and messages."""

from dataclasses import dataclass

from django.contrib.admin.models import LogEntry
from django.db import IntegrityError
from django.db.models import Count, F, Sum
from django.db.models.functions import Coalesce

from accounts.models import Profile, User
from eventlog.events import Event, log_event
from lib.rls import acting_as_auth, acting_as_learner

ADMIN_HISTORY_KEPT = "23001"  # restrict_violation: the trigger of accounts 0010
KEEPS_ADMIN_HISTORY = (
    "This account made changes in the admin: staff deactivate it (its Active box) instead, so"
    " that the admin's history keeps who made them."
)


class KeepsAdminHistory(Exception):
    """An account with entries of its own in the admin's history is deactivated, not deleted."""


def keeps_admin_history(user: User) -> bool:
    """Whether the account made changes in the admin: Django would delete its entries of the
    admin's history with it (LogEntry.user cascades), and who did what went with them (the
    attacker's recheck); staff or not (a superuser, or staff since demoted: the recheck). The
    database refuses that deletion too (accounts 0010), as an entry written meanwhile."""
    return LogEntry.objects.filter(user_id=user.pk).exists()


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
    try:
        with acting_as_auth():  # accounts are maraum_auth's; the database cascades the rest
            _, by_model = User.objects.filter(pk=learner_id).delete()
    except IntegrityError as error:  # an entry written since it was asked (accounts 0010)
        if getattr(error.__cause__, "sqlstate", None) == ADMIN_HISTORY_KEPT:
            raise KeepsAdminHistory(KEEPS_ADMIN_HISTORY) from error
        raise
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
