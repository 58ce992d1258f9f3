"""Model failures: retried before the first token, final after it, logged, nothing half-stored."""

import pytest

from tests.chat.conftest import (
    FAILED,
    FINISHED,
    STREAMING,
    Tab,
    chat_db,
    deltas,
    events,
    one_turn,
    settle,
    stored,
    streamed_text,
)
from tests.conftest import run_sql
from tests.support.fake_anthropic import PlannedResponse, lorem_text

pytestmark = chat_db

OK = PlannedResponse(text="Alles klar!")


@pytest.mark.parametrize("status", [429, 529, 500])
async def test_errors_before_the_first_token_are_retried(
    alice, alice_session, fake_anthropic, status
):
    fake_anthropic.enqueue(PlannedResponse(status=status, retry_after=0.01), OK)
    await one_turn(alice, alice_session.pk)
    assert (await stored(alice_session.pk, "main"))[-1] == ("scenario", "Alles klar!")
    retries = await events("api_retry_attempted")
    assert len(retries) == 1 and retries[0][1] == "warn" and retries[0][2]["status"] == status
    assert fake_anthropic.request_count == 2


async def test_the_tabs_say_when_the_model_is_asked_again(alice, alice_session, fake_anthropic):
    """The reply's bubble stayed empty while the model was asked again, for up to a minute
    (the last note's left item): each tab, one that opens meanwhile too, says which try."""
    fake_anthropic.enqueue(PlannedResponse(status=429, retry_after=1.0), OK)
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.send(message="Hallo")
    again = await tab.until("No answer yet")
    assert "asking again (try 2 of 3)" in again and STREAMING in again
    assert not deltas(tab.frames)  # said before any text
    opened = Tab(alice, alice_session.pk)
    await opened.connect()  # during the retry's wait
    assert "(try 2 of 3)" in await opened.until(STREAMING)
    await tab.until(FINISHED)
    assert streamed_text(tab.frames) == "Alles klar!"
    await settle()
    await tab.close()
    await opened.close()


async def test_a_timeout_before_the_first_token_is_retried(
    alice, alice_session, fake_anthropic, settings
):
    settings.MODEL_FIRST_TOKEN_TIMEOUT = 0.3
    fake_anthropic.enqueue(PlannedResponse(hang=True), OK)
    await one_turn(alice, alice_session.pk)
    assert (await events("api_retry_attempted"))[0][2]["reason"] == "timeout"


async def test_giving_up_after_the_last_attempt_stores_nothing(
    alice, alice_session, fake_anthropic, settings
):
    settings.MODEL_RETRY_ATTEMPTS = 2
    fake_anthropic.enqueue(PlannedResponse(status=529), PlannedResponse(status=529))
    frame = await one_turn(alice, alice_session.pk, until=FAILED)
    assert "Try again" in frame
    assert [role for role, _ in await stored(alice_session.pk, "main")] == ["scenario", "user"]
    [(_, level, failed)] = await events("api_call_failed")
    assert level == "error" and failed["status"] == 529


async def test_a_timeout_after_all_attempts_is_logged_as_a_timeout(
    alice, alice_session, fake_anthropic, settings
):
    settings.MODEL_RETRY_ATTEMPTS = 1
    settings.MODEL_FIRST_TOKEN_TIMEOUT = 0.2
    fake_anthropic.enqueue(PlannedResponse(hang=True))
    frame = await one_turn(alice, alice_session.pk, until=FAILED)
    assert "took too long" in frame
    assert len(await events("api_call_timeout")) == 1


async def test_a_spent_limit_is_not_retried(alice, alice_session, fake_anthropic):
    fake_anthropic.enqueue(
        PlannedResponse(status=429, error_message="You have reached your spend limit.")
    )
    await one_turn(alice, alice_session.pk, until=FAILED)
    assert fake_anthropic.request_count == 1
    assert await events("api_retry_attempted") == []


@pytest.mark.parametrize("mode", ["error", "close"])
async def test_a_break_mid_stream_discards_the_partial_reply(
    alice, alice_session, fake_anthropic, mode
):
    fake_anthropic.enqueue(PlannedResponse(text=lorem_text(20), break_after=5, break_mode=mode))
    frame = await one_turn(alice, alice_session.pk, until=FAILED)
    assert "Your message is saved" in frame
    assert [role for role, _ in await stored(alice_session.pk, "main")] == ["scenario", "user"]
    assert fake_anthropic.request_count == 1  # tokens had streamed: no retry
    [(_, _, failed)] = await events("api_call_failed")
    assert failed["streamed_chars"] > 0


async def test_the_retry_button_asks_again_without_storing_the_message_twice(
    alice, alice_session, fake_anthropic, settings
):
    settings.MODEL_RETRY_ATTEMPTS = 1
    fake_anthropic.enqueue(PlannedResponse(status=500), OK)
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.send(message="Hallo")
    await tab.until(FAILED)
    await tab.send(chat="main", action="retry")
    # The new reply takes the failed one's place: the "Try again" box does not stay.
    assert STREAMING in await tab.until('data-frame="slot"')
    await tab.until(FINISHED)
    await tab.close()
    assert await stored(alice_session.pk, "main") == [
        ("scenario", alice_session.scenario.initial_message_main),
        ("user", "Hallo"),
        ("scenario", "Alles klar!"),
    ]


@pytest.fixture
def failing_message_inserts():
    """The database fails every message insert (a test-only trigger): a real error, not a
    refusal."""
    run_sql(
        "CREATE FUNCTION fail_for_test() RETURNS trigger LANGUAGE plpgsql"
        " AS $$ BEGIN RAISE EXCEPTION 'the disk is full'; END $$;"
        " GRANT EXECUTE ON FUNCTION fail_for_test() TO maraum_learner, maraum_staff;"
        " CREATE TRIGGER zz_fail_for_test BEFORE INSERT ON messages"
        " FOR EACH ROW EXECUTE FUNCTION fail_for_test()"
    )
    try:
        yield
    finally:
        run_sql("DROP TRIGGER zz_fail_for_test ON messages; DROP FUNCTION fail_for_test()")


@pytest.mark.parametrize("chat", ["main", "helper"])
async def test_a_database_failure_is_said_as_ours_not_as_a_session_gone(
    alice, alice_session, fake_anthropic, failing_message_inserts, chat
):
    """Any database error used to tell the learner "This session is no longer available"."""
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.send(chat=chat, message="Hallo!")
    notice = await tab.until(f'id="{chat}-error"')
    assert "went wrong on our side" in notice and "no longer available" not in notice
    await tab.close()
    [(_, level, logged)] = await events("unknown_error")
    assert level == "error" and logged["where"] == "chat_turn"
    assert fake_anthropic.request_count == 0


async def test_a_frame_to_a_socket_being_closed_is_dropped_quietly():
    """Daphne passes a frame on until the close completes, and autobahn refused it: a
    traceback and an `unknown_error` row each (the ops replay)."""
    from autobahn.exception import Disconnected

    from chat.consumers import ChatConsumer

    async def closing(message):
        raise Disconnected("Attempt to send on a closed protocol")

    consumer = ChatConsumer()
    consumer.base_send = closing
    await consumer.send(text_data="<p>late</p>")  # nothing raised


@pytest.mark.parametrize("database", ["back within the stale window", "away for longer"])
async def test_a_reply_the_database_fails_to_store_still_ends_in_every_tab(
    alice, alice_session, fake_anthropic, settings, monkeypatch, database
):
    """The database away as a reply was stored: its claim could not be given up either, and
    every tab said "Replying…" for good, with nothing logged (the attacker's replay). The page
    is offered "Try again" once the claim is given up, or once it has gone stale anyway."""
    from asgiref.sync import sync_to_async
    from django.db import OperationalError

    from chat import replies

    settings.REPLY_STALE_AFTER = 1.5
    monkeypatch.setattr(replies, "RELEASE_AGAIN_AFTER", 0.1)
    releases, release = [], replies.release_failed_reply

    def store_reply(*args, **kwargs):
        raise OperationalError("the database is away")

    def release_failed_reply(*args, **kwargs):
        releases.append(args)
        if database == "away for longer" or len(releases) < 3:
            raise OperationalError("the database is away")
        return release(*args, **kwargs)

    monkeypatch.setattr(replies, "store_reply", store_reply)
    monkeypatch.setattr(replies, "release_failed_reply", release_failed_reply)
    fake_anthropic.enqueue(OK)
    watching = Tab(alice, alice_session.pk)  # another tab on the session
    await watching.connect()
    await one_turn(alice, alice_session.pk, until=FAILED)
    assert "Try again" in await watching.until(FAILED)
    claimed = await sync_to_async(claims_held)(alice_session.pk)
    if database == "away for longer":
        assert claimed == ["main"] and len(releases) > 3  # left to go stale
    else:
        assert claimed == [] and len(releases) == 3
        [(_, _, failed)] = await events("api_call_failed")
        assert failed["reason"] == "internal_error"
    await watching.close()


def claims_held(session_id) -> list[str]:
    from lib.rls import acting_as_staff

    with acting_as_staff():
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT chat_type FROM reply_claims WHERE session_id = %s", [session_id])
            return [chat for (chat,) in cursor.fetchall()]
