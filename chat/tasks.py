"""Background tasks (django-tasks, database queue; `manage.py task_worker` runs them): the
scene report, and the meanings of cards kept without one."""

import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import timedelta
from functools import partial

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks_db.models import DBTaskResult

from accounts.models import User
from chat import allowance, glosses, reports
from chat.call_log import log_chat_event
from chat.models import SceneReport
from chat.providers import (
    InvalidAnswer,
    ModelError,
    ReplyDone,
    close_provider,
    get_provider,
    is_offline,
)
from eventlog.events import Event, Level
from learning import deck
from learning.models import Card
from lib.rls import acting_as_learner, acting_as_staff
from scenarios.models import Session

REPORT = "report"  # the `chat` of its log rows
GLOSS = "gloss"  # and of the meanings' calls


# Asking for a report: in the learner's transaction that completes the session.


def request_report(session_id) -> None:
    """A pending report for the session, and the task that writes it once this commits; if
    another request has asked for it already (two pages at once), that one's task writes it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO scene_reports (session_id, status, kind) VALUES (%s, %s, '')"
            " ON CONFLICT (session_id) DO NOTHING RETURNING session_id",
            [session_id, SceneReport.Status.PENDING],
        )
        asked = cursor.fetchone() is not None
    if asked:
        transaction.on_commit(lambda: enqueue(session_id))


def enqueue(session_id) -> None:
    with acting_as_staff():
        write_report.enqueue(str(session_id))


def report_of(learner_id, session_id) -> SceneReport | None:
    """The learner's report on a session (None: the session is not a completed one of
    theirs). A completed session without one gets one asked for; a pending one whose task was
    lost (a worker killed mid-task) is queued again once it is stale."""
    with acting_as_learner(learner_id, savepoint=False):
        report = SceneReport.objects.filter(session_id=session_id).first()
    if report is None:
        with acting_as_learner(learner_id):
            if not Session.objects.of(learner_id).completed().filter(pk=session_id).exists():
                return None
            # Completed before reports existed, or its request was lost: ask for it now.
            request_report(session_id)
            return SceneReport.objects.get(session_id=session_id)
    stale_before = timezone.now() - timedelta(seconds=settings.REPORT_STALE_AFTER)
    if report.status == SceneReport.Status.PENDING and report.requested_at < stale_before:
        with acting_as_staff():
            if _report_task_alive(session_id, stale_before):
                return report  # queued behind others, or being written: not lost
            stale = SceneReport.objects.filter(
                session_id=session_id,
                status=SceneReport.Status.PENDING,
                requested_at__lt=stale_before,
            ).update(requested_at=Now())
        if stale:
            enqueue(session_id)
            # As it stands now: asked for again, not late (it said so, then "being written" at
            # its next check: the attacker's recheck).
            report.requested_at = timezone.now()
    return report


def _report_task_alive(session_id, started_since) -> bool:
    """Whether a task for the report waits in the queue (a backlog, a retry's wait) or began
    since `started_since`. One that began earlier was lost with its worker. Counted from the
    request alone, a report waiting behind a backlog was queued again, and two workers wrote it
    twice (found by the attacker's replay)."""
    return (
        DBTaskResult.objects.filter(
            status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING],  # maraum_live_tasks_idx
            task_path=write_report.module_path,
            args_kwargs__args=[str(session_id)],
        )
        .filter(
            Q(status=TaskResultStatus.READY)
            | Q(status=TaskResultStatus.RUNNING, started_at__gte=started_since)
        )
        .exists()
    )


@task()
def write_report(session_id: str) -> str:
    """Write the report on a completed session, once; retried later on model errors and
    malformed reports, stored as failed after REPORT_ATTEMPTS."""
    pending = reports.pending_report(session_id)
    if pending is None:
        return "written already"
    session, history, states = pending
    learner_id = session.user_id
    if is_offline() or not _spend_a_model_call(session.user.email):
        content = reports.offline_report(session, history, states)
        content["why_offline"] = "no_model" if is_offline() else "budget"
        reports.store(session_id, content, SceneReport.Kind.OFFLINE)
        return "offline"
    request = reports.report_request(session, history, states)
    try:
        content = _answer(learner_id, session_id, REPORT, request, reports.validated)
    except ModelError:
        attempts = _attempts(session_id)
        if attempts < reports.REPORT_ATTEMPTS:
            retry_at = timezone.now() + timedelta(seconds=30 * attempts)
            with acting_as_staff():
                write_report.using(run_after=retry_at).enqueue(session_id)
            return "retrying"
        reports.store(session_id, None, SceneReport.Kind.MODEL)
        return "failed"
    content["words"] = reports.with_example_lines(content["words"], session, history)
    reports.store(session_id, reports.with_goal_texts(content, states), SceneReport.Kind.MODEL)
    return "written"


# Meanings for cards kept without one: asked for once the keep commits.

GLOSS_AGAIN_AFTER = 5  # seconds: a learner's meanings task waits while another worker asks
# seconds: after a meanings call found the model unavailable (its retries spent), this
# worker's meanings tasks wait so long, then ask once for every card kept meanwhile.
GLOSS_BACK_OFF = 60

_model_unavailable_until = 0.0  # this worker's, by time.monotonic()


def ask_for_meanings(learner_id, card_ids: list[str]) -> None:
    """Queued once the keep commits (not offline); meanwhile the cards say that their meaning
    is on its way."""
    if is_offline():
        return
    deck.meanings_asked(learner_id, card_ids)
    transaction.on_commit(lambda: _enqueue_glosses(learner_id, card_ids), robust=True)


def _enqueue_glosses(learner_id, card_ids: list[str], run_after=None) -> None:
    """One task waiting per learner: it takes every card whose meaning is on its way, so a
    learner keeping line after line queues one call at a time, not one a line."""
    with acting_as_staff():
        if _meanings_task_waits(learner_id):
            return
        queue = gloss_cards.using(run_after=run_after) if run_after else gloss_cards
        queue.enqueue(str(learner_id), card_ids)


def ask_again_for_lost_meanings() -> int:
    """A meanings task for each learner with cards whose meaning is on its way and no task
    waiting: their task went with a worker killed mid-call (it stays "running" for ever), and
    the cards waited until the learner kept something else. The task worker calls this as it
    starts; a task still running elsewhere makes the new one wait for it. How many learners."""
    with acting_as_staff():
        learners = set(
            Card.objects.filter(gloss="", meaning_asked_at__gt=timezone.now() - Card.MEANING_WAIT)
            .values_list("user_id", flat=True)
            .distinct()
        )
    for learner_id in learners:
        _enqueue_glosses(learner_id, [])
    return len(learners)


def _meanings_task_waits(learner_id) -> bool:
    return DBTaskResult.objects.filter(
        status=TaskResultStatus.READY,
        task_path=gloss_cards.module_path,
        args_kwargs__args__0=str(learner_id),
    ).exists()


# In the order queued, as the reports: given priority, the meanings of one learner keeping a
# line every few seconds held back every scene report for as long (the recheck replay).
@task()
def gloss_cards(learner_id: str, card_ids: list[str]) -> str:
    """Ask the model for the meanings of the learner's cards that have none, in one call, and
    store each on its card. The call also takes the learner's other cards whose meaning is on
    its way (their own tasks, queued behind, then have nothing to do): a learner keeping line
    after line queued a call each, and everyone's scene reports waited behind them (found by
    the attacker's replay). One worker at a time asks for a learner's meanings; another waits
    (two asked for the same cards twice). Not retried: a card left without one says so on the
    review page."""
    with _asking_for(learner_id) as alone:
        if not alone:
            later = timezone.now() + timedelta(seconds=GLOSS_AGAIN_AFTER)
            _enqueue_glosses(learner_id, card_ids, run_after=later)
            return "another worker is asking"
        waiting = _model_unavailable_until - time.monotonic()
        if waiting > 0:  # their cards stay on their way (for at most Card.MEANING_WAIT)
            later = timezone.now() + timedelta(seconds=waiting)
            _enqueue_glosses(learner_id, card_ids, run_after=later)
            return "the model is unavailable: asking later"
        cards = deck.awaiting_meanings(learner_id, card_ids, most=glosses.MAX_CARDS)
        try:
            return _gloss(learner_id, cards)
        finally:
            deck.meanings_not_coming(learner_id, {*card_ids, *(card.pk for card in cards)})
            # More than one call's worth were waiting (keeps made while this task waited
            # queued no other): the rest get a task of their own.
            if deck.awaiting_meanings(learner_id, [], most=1):
                _enqueue_glosses(learner_id, [])


@contextmanager
def _asking_for(learner_id):
    """Whether this worker is the only one asking for the learner's meanings: a session lock
    on its connection, held through the model call (no transaction stays open) and released
    after; a worker that dies releases it with its connection."""
    key = f"maraum:meanings:{learner_id}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [key])
        alone = cursor.fetchone()[0]
    try:
        yield alone
    finally:
        if alone:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [key])


def _gloss(learner_id: str, cards: list) -> str:
    if not cards:
        return "nothing to gloss"
    if is_offline():
        return "offline"
    with acting_as_staff():
        email = User.objects.get(pk=learner_id).email
    if not _spend_a_model_call(email):
        return "budget"
    read = partial(glosses.matched, cards)
    try:
        found = _answer(learner_id, None, GLOSS, glosses.gloss_request(cards), read)
    except ModelError as error:
        if error.retryable or error.status == 429:  # unavailable, or the account's limit
            _back_off(error.retry_after)
        return "failed"
    return f"glossed {deck.add_glosses(learner_id, found)} of {len(cards)}"


def _back_off(retry_after: float | None) -> None:
    """The model was unavailable: with it failing, each keep's call was tried 3 times, and a
    learner keeping a line every few seconds made 45 requests for 15 keeps (the recheck
    replay). A worker of its own each: another worker finds out with its next call."""
    global _model_unavailable_until
    _model_unavailable_until = time.monotonic() + max(GLOSS_BACK_OFF, retry_after or 0)


def _answer(learner_id, session_id, chat: str, request, read: Callable):
    """The model's tool call for `request`, as `read` makes it out, with its log rows (started;
    completed, or failed or timed out: then raised as a ModelError, also for an answer `read`
    refuses)."""
    log_chat_event(learner_id, session_id, chat, Event.API_CALL_STARTED)
    started = timezone.now()
    try:
        done = async_to_sync(_tool_call)(learner_id, session_id, chat, request)
        answer = read(done.tool_inputs.get(request.tool_choice["name"]))
    except (ModelError, InvalidAnswer) as error:
        failure = error if isinstance(error, ModelError) else ModelError(error.reason)
        log_chat_event(
            learner_id,
            session_id,
            chat,
            Event.API_CALL_TIMEOUT if failure.timeout else Event.API_CALL_FAILED,
            failure=failure,
            level=Level.ERROR,
            latency_ms=_ms_since(started),
        )
        raise failure from error
    log_chat_event(
        learner_id,
        session_id,
        chat,
        Event.API_CALL_COMPLETED,
        latency_ms=_ms_since(started),
        attempts=done.attempts,
        **done.usage,
    )
    return answer


async def _tool_call(learner_id, session_id, chat: str, request) -> ReplyDone:
    """One model call answered with a tool call (a report, meanings), on this task's own event
    loop; each retry is logged."""

    async def on_retry(attempt: int, delay: float, error: ModelError) -> None:
        await sync_to_async(log_chat_event)(
            learner_id,
            session_id,
            chat,
            Event.API_RETRY_ATTEMPTED,
            failure=error,
            attempt=attempt,
            delay_s=round(delay, 3),
        )

    try:
        async for item in get_provider().stream(request, on_retry):
            if isinstance(item, ReplyDone):
                return item
        raise ModelError("stream_ended_early")
    finally:  # this event loop ends with the call
        await close_provider()


def _spend_a_model_call(email: str) -> bool:
    """A report or a card's meaning spends one of the learner's model calls of the day, like a
    reply."""
    with acting_as_staff():
        return allowance.MODEL_CALLS.take(email).allowed


def _attempts(session_id) -> int:
    with acting_as_staff():
        found = SceneReport.objects.filter(session_id=session_id).values_list("attempts")
        return found[0][0] if found else reports.REPORT_ATTEMPTS  # gone: no more tries


def _ms_since(started) -> int:
    return round((timezone.now() - started).total_seconds() * 1000)
