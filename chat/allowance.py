"""What a model call may spend: one of the learner's messages a minute and one of the day's
model calls (counted per email, so re-creating an account does not reset it). The rules are
throttles (lib/throttles.py); their rates are settings."""

from dataclasses import dataclass

from django.db import connection

from accounts import channels_auth
from accounts.channels_auth import SocketLogin, login_digest
from chat.refusals import LoginEnded, Throttled
from eventlog.events import Event, Level, log_event
from lib.rls import acting_as_learner
from lib.throttles import Throttle, Verdict, take_all
from lib.throttles import buckets as throttle_buckets

CHAT_MESSAGES = Throttle("chat-learner", "CHAT_MESSAGES_PER_LEARNER")
MODEL_CALLS = Throttle("model-calls", "MODEL_CALLS_PER_DAY")  # an int: that many per day


@dataclass(frozen=True)
class Allowance:
    email: str
    calls_left: int

    def give_back_call(self) -> None:
        """No model call followed. The message stays spent, also for a resend or a retry with
        nothing to answer: each still reads and sends the whole conversation, and a flood of
        them was never refused."""
        MODEL_CALLS.give_back(self.email)


def spend(learner_id, session_id, login: SocketLogin | None) -> Allowance | Throttled:
    """Spend a message and a model call (both or neither), in the caller's learner transaction;
    a refusal is returned, not raised, so the caller can keep its log row (one per flood)."""
    email = _current_login(learner_id, login)
    verdict, refused_by = take_all(_throttles(learner_id, email))
    if refused_by is None:
        return Allowance(email, int(verdict.tokens_left))
    return refusal(learner_id, session_id, verdict, refused_by)


def buckets(learner_id, email: str) -> list[list]:
    """What spend() takes, as `take_all_tokens()` takes it (the model call's bucket last), for a
    statement that spends it itself (chat/turns.py's plain turn)."""
    return throttle_buckets(_throttles(learner_id, email))


def refusal(learner_id, session_id, verdict: Verdict, refused_by: Throttle | int) -> Throttled:
    """The learner is told why and when to try again; the first refusal of a flood is logged
    (in the caller's learner transaction). `refused_by`: the throttle, or its place in
    buckets(), from 1."""
    if isinstance(refused_by, int):
        refused_by = _throttles(learner_id, "")[refused_by - 1][0]
    if verdict.first_refusal:
        log_event(
            Event.RATE_LIMIT_EXCEEDED,
            level=Level.WARN,
            user_id=learner_id,
            session_id=session_id,
            throttle=refused_by.name,
            retry_after_s=round(verdict.retry_after),
        )
    text = _too_fast if refused_by is CHAT_MESSAGES else _budget_used
    return Throttled(text(verdict))


def _throttles(learner_id, email: str) -> list[tuple[Throttle, tuple]]:
    return [(CHAT_MESSAGES, (learner_id,)), (MODEL_CALLS, (email,))]


def calls_left(email: str) -> int:
    return int(MODEL_CALLS.tokens_left(email))


def login_holds(learner_id, login: SocketLogin | None) -> bool:
    """Whether the learner's login is still current (a socket's, checked again after messages
    to it may have been lost): as each turn checks it, and as Django checks a page's, its
    session's password hash the account's. A new password ends the other logins: a socket
    whose "password.changed" was lost (Redis emptied) stayed open, sending and receiving (the
    attacker's recheck)."""
    with acting_as_learner(learner_id):
        try:
            _current_login(learner_id, login)
        except LoginEnded:
            return False
    return login is None or channels_auth.login_verified(login.session_key, learner_id)


def _current_login(learner_id, login: SocketLogin | None) -> str:
    """The learner's email while their login holds (LoginEnded otherwise)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_login_email_by_digest(%s, %s)", [learner_id, login_digest(login)]
        )
        email = cursor.fetchone()[0]
    if email is None:
        raise LoginEnded
    return email


def _too_fast(verdict: Verdict) -> str:
    return (
        "You are sending messages very quickly. Take a breath: you can send again in "
        f"{verdict.wait_label}."
    )


def _budget_used(verdict: Verdict) -> str:
    return (
        "You have used today's replies. More arrive as the day goes on: the next in "
        f"{verdict.wait_label}."
    )
