"""Who may keep a chat socket open: the site's own pages only, for as long as the login lasts,
a bounded number at a time; and a flood of refused frames leaves a trace, not a pile of logs."""

import asyncio
import contextlib
import json
import threading
import uuid

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from accounts.deletion import delete_account
from maraum.asgi import application
from tests.chat.conftest import FINISHED, Tab, chat_db, events, mid_reply, settle, socket_to, stored
from tests.conftest import PASSWORD
from tests.support.logins import login_session_key

ANSWERED = uuid.uuid4()

pytestmark = chat_db


logged_in = sync_to_async(login_session_key)


@pytest.fixture
def database_word_lost(monkeypatch):
    """The database's word of a login change (chat/login_changes.py) never heard: its
    listener down, say."""
    from chat import login_changes

    async def not_listening(*args):
        pass

    monkeypatch.setattr(login_changes, "keep_listening", not_listening)


def socket(session_id, session_key, origin=b"http://localhost:8000", host=b"localhost:8000"):
    return socket_to(
        application,
        f"/ws/sessions/{session_id}/",
        headers=[
            (b"origin", origin),
            (b"host", host),
            (b"cookie", f"sessionid={session_key}".encode()),
        ],
    )


async def refused_at_the_handshake(session_id, session_key) -> bool:
    """Whether a socket of that login is refused as logged out."""
    again = socket(session_id, session_key)
    assert (await again.connect())[0]
    return await closed_with(again) == 4401


async def two_logins_open(user, session_id):
    """The first of two logins of `user`'s, and a socket of each open on the session."""
    key, other_device = await logged_in(user), await logged_in(user)
    this, other = socket(session_id, key), socket(session_id, other_device)
    for communicator in (this, other):
        assert (await communicator.connect())[0]
        await communicator.receive_from()  # sync
    return key, this, other


async def closed_with(communicator) -> int:
    while True:
        output = await communicator.receive_output(5)
        if output["type"] == "websocket.close":
            return output["code"]


@pytest.mark.parametrize(
    "origin",
    [
        b"http://localhost:9999",  # another port
        b"http://localhost:3000",
        b"https://localhost:8000",  # another scheme
        b"http://evil.example",
        b"null",
    ],
)
async def test_only_the_sites_own_origin_may_open_the_socket(alice, alice_session, origin):
    key = await logged_in(alice)
    connected, _ = await socket(alice_session.pk, key, origin=origin).connect()
    assert not connected  # the handshake is refused (HTTP 403)


async def test_the_sites_own_origin_and_trusted_ones_are_welcome(alice, alice_session, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://maraum.example"]
    key = await logged_in(alice)
    for origin in (b"http://localhost:8000", b"https://maraum.example"):
        communicator = socket(alice_session.pk, key, origin=origin)
        connected, _ = await communicator.connect()
        assert connected
        assert 'data-frame="sync"' in await communicator.receive_from()
        await communicator.disconnect()


async def test_logging_out_ends_the_sockets_of_that_login(alice, alice_session):
    key, this, other = await two_logins_open(alice, alice_session.pk)
    client = Client()
    client.cookies["sessionid"] = key
    await sync_to_async(client.post)("/logout/")
    assert await closed_with(this) == 4401
    assert await other.receive_nothing(0.2)  # the other device stays logged in
    await other.disconnect()


@pytest.mark.parametrize("how", ["deactivated", "deleted", "new password", "no password"])
async def test_losing_the_account_ends_every_socket(alice, alice_session, how):
    """A new password too: one set by staff in the admin (saved whole, not as
    update_fields=["password"]) left the sockets open (the ops replay)."""
    keys = [await logged_in(alice), await logged_in(alice)]
    sockets = [socket(alice_session.pk, key) for key in keys]
    for communicator in sockets:
        assert (await communicator.connect())[0]
        await communicator.receive_from()

    def lose_account():
        if how == "deleted":
            delete_account(alice)
        elif how == "new password":
            alice.set_password("a new and long passphrase")
            alice.save()  # as the admin's password form does
        elif how == "no password":  # the admin's "disable password-based authentication"
            alice.set_unusable_password()
            alice.save()
        else:
            alice.is_active = False
            alice.save()

    await sync_to_async(lose_account)()
    # Deleted: the page says so, not "log in again" (a newcomer's walk).
    for communicator in sockets:
        expected = {"deleted": 4410, "deactivated": 4401}.get(how, 4011)
        assert await closed_with(communicator) == expected
    # A new password: each page connects again, and no login holds.
    for key in keys:
        assert await refused_at_the_handshake(alice_session.pk, key)


@pytest.mark.parametrize("how", ["update", "sql"])
async def test_a_password_set_where_the_server_hears_nothing_ends_the_other_logins_at_their_turn(
    alice, alice_session, fake_anthropic, how, database_word_lost
):
    """`changepassword` run from the command line tells its own process only: the other
    logins' open sockets went on sending, and the model answered, since each turn checked only
    that the login's session existed (the attacker's replay). A turn checks the password too,
    as Django's check of a page's login does, also with the database's word of the change
    lost (its listener down, here)."""
    from accounts.models import User
    from tests.conftest import run_sql

    key = await logged_in(alice)
    communicator = socket(alice_session.pk, key)
    assert (await communicator.connect())[0]
    await communicator.receive_from()
    await communicator.send_to(text_data=json.dumps({"chat": "main", "message": "Hallo!"}))
    while FINISHED not in await communicator.receive_from(5):
        pass  # until the reply is done: the login held until then
    assert fake_anthropic.request_count == 1

    def set_password_silently():
        new = User(pk=alice.pk)
        new.set_password("a new and long passphrase")
        if how == "update":
            User.objects.filter(pk=alice.pk).update(password=new.password)  # no signal
        else:
            run_sql(
                "UPDATE accounts_user SET password = %s WHERE id = %s", [new.password, alice.pk]
            )

    await sync_to_async(set_password_silently)()
    await communicator.send_to(text_data=json.dumps({"chat": "main", "message": "Noch da?"}))
    # Connect again: the handshake tells this login it ended (4401 at once told the page that
    # chose the password "You are logged out" too: the attacker's recheck).
    assert await closed_with(communicator) == 4011
    assert "Noch da?" not in str(await stored(alice_session.pk))
    assert fake_anthropic.request_count == 1
    assert await refused_at_the_handshake(alice_session.pk, key)


@pytest.mark.parametrize("change", ["password", "is_active"])
async def test_a_login_changed_where_the_server_hears_nothing_closes_its_listening_sockets(
    alice, alice_session, change
):
    """A password set by SQL (or `changepassword`, which tells only its own process): an
    ended login's socket that only listened went on receiving the conversation, its turns
    refused but none sent (the attacker's recheck). The database tells every process."""
    from accounts.models import User
    from tests.conftest import run_sql

    key = await logged_in(alice)
    communicator = socket(alice_session.pk, key)
    assert (await communicator.connect())[0]
    await communicator.receive_from()

    def change_silently():
        if change == "password":
            new = User(pk=alice.pk)
            new.set_password("a new and long passphrase")
            run_sql(
                "UPDATE accounts_user SET password = %s WHERE id = %s", [new.password, alice.pk]
            )
        else:
            run_sql("UPDATE accounts_user SET is_active = false WHERE id = %s", [alice.pk])

    await sync_to_async(change_silently)()
    # A new password: connect again, and the handshake checks (4401 would have told the page
    # that chose it "You are logged out"); no account: logged out.
    assert await closed_with(communicator) == (4011 if change == "password" else 4401)
    assert await refused_at_the_handshake(alice_session.pk, key)


async def test_an_ended_login_resending_the_message_being_answered_gets_no_redraw(
    alice, alice_session, fake_anthropic, database_word_lost
):
    """A resend of the message another tab's reply answers drew the whole conversation for a
    login a new password had ended, before any check (the attacker's recheck)."""
    from accounts.models import User
    from tests.conftest import run_sql

    key = await logged_in(alice)
    ended = socket(alice_session.pk, key)
    assert (await ended.connect())[0]
    await ended.receive_from()
    client_id = str(uuid.uuid4())
    tab = await mid_reply(
        alice,
        alice_session.pk,
        fake_anthropic,
        200,
        word_delay=0.02,
        message="Hallo!",
        client_message_id=client_id,
    )  # 4 s
    new = User(pk=alice.pk)
    new.set_password("a new and long passphrase")
    await sync_to_async(run_sql)(
        "UPDATE accounts_user SET password = %s WHERE id = %s", [new.password, alice.pk]
    )
    resend = {"chat": "main", "message": "Hallo!", "client_message_id": client_id}
    await ended.send_to(text_data=json.dumps(resend))
    while (output := await ended.receive_output(5))["type"] == "websocket.send":
        assert 'data-frame="sync"' not in output.get("text", ""), "redrawn for an ended login"
    assert output["type"] == "websocket.close" and output["code"] == 4011
    await tab.until(FINISHED)
    await tab.close()


async def test_a_login_change_made_while_no_process_listened_is_caught_up_on_reconnecting(
    alice, alice_session, monkeypatch
):
    """The database's word goes to whoever listens then: a password set while a process's
    listening connection was lost would be heard by none of its sockets."""
    import psycopg

    from accounts.models import User
    from chat import login_changes
    from tests.conftest import run_sql

    monkeypatch.setattr(login_changes, "READY_WAIT", 0.1)
    monkeypatch.setattr(login_changes, "RECONNECT_AFTER", 0.05)
    changed, tries = asyncio.Event(), []
    connect = psycopg.AsyncConnection.connect

    async def lost_until_the_change(*args, **kwargs):
        tries.append(1)
        if len(tries) == 1:
            await changed.wait()
            raise psycopg.OperationalError("the database went away")
        return await connect(*args, **kwargs)

    monkeypatch.setattr(psycopg.AsyncConnection, "connect", lost_until_the_change)
    key = await logged_in(alice)
    communicator = socket(alice_session.pk, key)
    assert (await communicator.connect())[0]
    await communicator.receive_from()
    new = User(pk=alice.pk)
    new.set_password("a new and long passphrase")
    await sync_to_async(run_sql)(
        "UPDATE accounts_user SET password = %s WHERE id = %s", [new.password, alice.pk]
    )
    changed.set()
    assert await closed_with(communicator) == 4011
    assert len(tries) == 2


async def test_a_login_change_heard_while_a_socket_was_opening_closes_it(
    alice, alice_session, monkeypatch
):
    """The handshake read the login, the change was heard before the socket was among the
    learner's, and it stayed open, receiving (the attacker's recheck: a stolen cookie that
    kept reconnecting survived the learner's new password)."""
    from chat import consumers, login_changes

    find_session = consumers.lifecycle.find_session

    def heard_meanwhile(learner_id, session_id):
        login_changes._heard(str(learner_id))  # as the listener does on the database's word
        return find_session(learner_id, session_id)

    key = await logged_in(alice)
    monkeypatch.setattr(consumers.lifecycle, "find_session", heard_meanwhile)
    communicator = socket(alice_session.pk, key)
    assert (await communicator.connect())[0]
    assert await closed_with(communicator) == 4011
    monkeypatch.setattr(consumers.lifecycle, "find_session", find_session)
    again = socket(alice_session.pk, key)  # read after the change: it holds (no new password)
    assert (await again.connect())[0]
    assert 'data-frame="sync"' in await again.receive_from(5)
    await again.disconnect()


async def test_a_login_deleted_where_the_server_hears_nothing_closes_its_sockets(
    alice, alice_session
):
    """A session deleted by SQL (or `clearsessions`, a script) left its sockets receiving the
    conversation (the attacker's replay). The database tells every process; that login's
    sockets connect again and are refused, another login's stay."""
    key, this, other = await two_logins_open(alice, alice_session.pk)
    await sync_to_async(_forget_login)(key)
    assert await closed_with(this) == 4011  # connect again: the handshake tells
    assert await refused_at_the_handshake(alice_session.pk, key)
    assert await other.receive_nothing(0.2)  # still open
    await other.disconnect()


async def test_a_login_deleted_as_the_first_socket_opens_closes_it(
    alice, alice_session, monkeypatch
):
    """The process's first socket: a login deleted after its handshake read it, and before
    the process listened, was told to no one, and the socket stayed open receiving the
    conversation (the attacker's recheck, 12 tries in 60)."""
    from chat import login_changes

    if login_changes._listener is not None:  # none listens: this socket is the first
        login_changes._listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await login_changes._listener
    key = await logged_in(alice)
    listen = login_changes.keep_listening

    async def deleted_first(*args):
        await sync_to_async(_forget_login)(key)
        await listen(*args)

    monkeypatch.setattr(login_changes, "keep_listening", deleted_first)
    communicator = socket(alice_session.pk, key)
    assert (await communicator.connect())[0]
    assert await closed_with(communicator) == 4011
    assert await refused_at_the_handshake(alice_session.pk, key)


async def test_an_account_deleted_is_said_so_when_the_database_tells_first(
    alice, alice_session, monkeypatch
):
    """The database's word that the deleting tab's login was deleted (accounts 0013: the
    account page logs it out) could come before "account.deleted" to another tab of that
    login: it closed with 4011, reconnected and said "You are logged out" of an account there
    is no more (the suite, under load)."""
    from chat import signals

    monkeypatch.setattr(signals, "_tell_on_commit", lambda group, message: None)  # not yet
    key = await logged_in(alice)
    communicator = socket(alice_session.pk, key)
    assert (await communicator.connect())[0]
    await communicator.receive_from()

    def delete_and_log_out():  # as the account page does, in the tab that deleted it
        delete_account(alice)
        _forget_login(key)

    await sync_to_async(delete_and_log_out)()
    assert await closed_with(communicator) == 4410


@pytest.mark.parametrize("how", ["emptied", "rekeyed"])
async def test_logins_emptied_or_rekeyed_by_sql_close_their_sockets(alice, alice_session, how):
    """TRUNCATE django_session (a common way to log everyone out) fires no DELETE trigger,
    and a key changed by SQL deletes no row: the sockets stayed open, receiving the
    conversation (the attacker's recheck)."""
    from tests.conftest import run_sql

    key, this, other = await two_logins_open(alice, alice_session.pk)

    def by_sql():  # as the tables' owner, say an operator in psql
        if how == "emptied":
            run_sql("TRUNCATE django_session")
        else:
            run_sql(
                "UPDATE django_session SET session_key = %s WHERE session_key = %s",
                ["x" * 32, key],
            )

    await sync_to_async(by_sql)()
    assert await closed_with(this) == 4011
    assert await refused_at_the_handshake(alice_session.pk, key)
    if how == "emptied":
        assert await closed_with(other) == 4011
    else:
        assert await other.receive_nothing(0.2)  # another login's: still open
        await other.disconnect()


def _expire_login(session_key: str, seconds: float) -> None:
    from lib.rls import acting_as_auth
    from tests.conftest import run_sql

    with acting_as_auth():
        run_sql(
            "UPDATE django_session SET expire_date = now() + make_interval(secs => %s)"
            " WHERE session_key = %s",
            [seconds, session_key],
        )


async def test_a_socket_closes_when_its_login_expires(alice, alice_session):
    """An expired login's socket that only listened went on receiving the conversation, for
    good (the attacker's replay: Django does not save a session on each request, so a login
    expires two weeks after it began)."""
    key = await logged_in(alice)
    await sync_to_async(_expire_login)(key, 0.5)
    communicator = socket(alice_session.pk, key)
    assert (await communicator.connect())[0]
    await communicator.receive_from()
    assert await closed_with(communicator) == 4011
    assert await refused_at_the_handshake(alice_session.pk, key)


async def test_a_login_whose_expiry_is_brought_forward_closes_its_sockets_then(
    alice, alice_session
):
    """Its sockets kept the expiry read at the handshake (two weeks on), and went on receiving
    past the new one (the attacker's recheck)."""
    key = await logged_in(alice)
    communicator = socket(alice_session.pk, key)
    assert (await communicator.connect())[0]
    await communicator.receive_from()
    await sync_to_async(_expire_login)(key, 0.5)
    assert await closed_with(communicator) == 4011
    assert await refused_at_the_handshake(alice_session.pk, key)


async def test_a_login_kept_alive_is_checked_again_at_its_new_expiry(
    alice, alice_session, monkeypatch
):
    from chat import consumers

    key = await logged_in(alice)
    await sync_to_async(_expire_login)(key, 0.3)
    checked = asyncio.Event()
    at_expiry = consumers.ChatConsumer._at_login_expiry

    async def noted(consumer):
        await at_expiry(consumer)
        checked.set()

    monkeypatch.setattr(consumers.ChatConsumer, "_at_login_expiry", noted)
    communicator = socket(alice_session.pk, key)
    assert (await communicator.connect())[0]
    await communicator.receive_from()
    await sync_to_async(_expire_login)(key, 3600)  # a page of the login saved its session
    await asyncio.wait_for(checked.wait(), 5)
    assert await communicator.receive_nothing(0.2)  # open: checked again in an hour
    await communicator.disconnect()


def test_the_listener_connects_with_all_of_the_servers_connection_settings(settings):
    """It kept eight and dropped the rest: a client certificate, a timeout, the hosts'
    order (the attacker's recheck)."""
    from django.db import connections

    from chat import login_changes

    options = {"sslcert": "/etc/client.crt", "connect_timeout": 5, "target_session_attrs": "any"}
    database = connections["default"]
    database.settings_dict["OPTIONS"] = {**database.settings_dict["OPTIONS"], **options}
    try:
        conninfo = login_changes._conninfo()
    finally:
        for option in options:
            del database.settings_dict["OPTIONS"][option]
    for option, value in options.items():
        assert f"{option}={value}" in conninfo


async def test_a_new_password_chosen_on_the_account_page_keeps_that_login_only(
    alice, alice_session
):
    this_key, other_key = await logged_in(alice), await logged_in(alice)
    sockets = [socket(alice_session.pk, key) for key in (this_key, other_key)]
    for communicator in sockets:
        assert (await communicator.connect())[0]
        await communicator.receive_from()
    client = Client()
    client.cookies["sessionid"] = this_key
    response = await sync_to_async(client.post)(
        "/account/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "another long passphrase",
            "new_password2": "another long passphrase",
        },
    )
    assert response.status_code == 302
    for communicator in sockets:
        assert await closed_with(communicator) == 4011
    # The learner's page connects again with its cookie, now the login's new one.
    this_page = socket(alice_session.pk, client.cookies["sessionid"].value)
    assert (await this_page.connect())[0]
    assert 'data-frame="sync"' in await this_page.receive_from()
    await this_page.disconnect()
    other_page = socket(alice_session.pk, other_key)
    assert (await other_page.connect())[0]
    assert await closed_with(other_page) == 4401


async def test_a_socket_opened_before_logout_takes_no_more_messages(
    alice, alice_session, fake_anthropic
):
    key = await logged_in(alice)
    communicator = socket(alice_session.pk, key)
    await communicator.connect()
    await communicator.receive_from()
    client = Client()
    client.cookies["sessionid"] = key
    await sync_to_async(client.post)("/logout/")
    assert await closed_with(communicator) == 4401
    assert fake_anthropic.request_count == 0


async def test_a_flood_of_refused_messages_is_logged_once(alice, alice_session, settings):
    settings.CHAT_MESSAGES_PER_LEARNER = "1/minute"
    settings.OFFLINE_TOKEN_DELAY = 0
    settings.ANTHROPIC_API_KEY = ""
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.send(chat="helper", message="Eins")
    await tab.until(FINISHED)
    for index in range(15):  # within what a page may send at once
        await tab.send(chat="helper", message=f"Noch {index}")
        assert "very quickly" in await tab.until('data-frame="notice"')
    await settle()
    await tab.close()
    assert len(await events("rate_limit_exceeded")) == 1
    assert len(await stored(alice_session.pk, "helper")) == 3  # opener, "Eins", its answer


@pytest.mark.parametrize("cap", ["CHAT_SOCKETS_PER_SESSION", "CHAT_SOCKETS_PER_LEARNER"])
async def test_sockets_are_capped(alice, alice_session, settings, cap):
    setattr(settings, cap, 2)
    tabs = [Tab(alice, alice_session.pk) for _ in range(2)]
    for tab in tabs:
        await tab.connect()
        await tab.receive()
    one_too_many = Tab(alice, alice_session.pk)
    await one_too_many.connect()
    assert await one_too_many.close_code() == 4429
    await tabs[0].close()  # a tab closes: there is room again
    again = Tab(alice, alice_session.pk)
    await again.connect()
    assert 'data-frame="sync"' in await again.receive()
    await asyncio.gather(*(tab.close() for tab in [*tabs[1:], again]))


async def test_a_consumer_cancelled_before_its_disconnect_frees_its_seat(
    alice, alice_session, settings
):
    """Daphne cancels a consumer still busy 10 s after its socket closed: disconnect() never
    runs, and the learner must not be locked out of this process (4429)."""
    settings.CHAT_SOCKETS_PER_LEARNER = 1
    killed = Tab(alice, alice_session.pk)
    await killed.connect()
    await killed.receive()
    killed.communicator.future.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await killed.communicator.future
    again = Tab(alice, alice_session.pk)
    await again.connect()
    assert 'data-frame="sync"' in await again.receive()
    await again.close()


async def test_retries_and_resends_with_nothing_to_answer_count_against_the_rate(
    alice, alice_session, settings
):
    """Each still reads and sends the whole conversation: a flood of them is refused like a
    flood of messages (they used to give their message back, and were never refused)."""
    settings.CHAT_MESSAGES_PER_LEARNER = "3/minute"
    settings.OFFLINE_TOKEN_DELAY = 0
    settings.ANTHROPIC_API_KEY = ""
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.receive()
    await tab.send(chat="helper", message="Eins", client_message_id=str(ANSWERED))
    await tab.until(FINISHED)
    await tab.send(chat="helper", message="Eins", client_message_id=str(ANSWERED))  # a resend
    await tab.until('data-frame="sync"')
    before = len(tab.frames)
    # Nothing new drawn since that redraw: the retry redraws nothing, and still counts.
    await tab.communicator.send_to(text_data=json.dumps({"chat": "helper", "action": "retry"}))
    await tab.communicator.send_to(text_data=json.dumps({"chat": "helper", "action": "retry"}))
    assert "very quickly" in await tab.until('data-frame="notice"')
    assert not any('data-frame="sync"' in frame for frame in tab.frames[before:])
    await tab.close()


async def test_a_socket_does_not_queue_behind_the_shared_sync_thread(alice, alice_session):
    """A handshake and a frame never wait for the one sync thread Channels shares by default
    (loading the learner ran there, and closing old connections before every frame): 500
    arriving chats queued behind each other there and timed out unanswered."""
    key = await logged_in(alice)
    busy, release = asyncio.Event(), threading.Event()

    def hold_the_shared_thread():
        busy_loop.call_soon_threadsafe(busy.set)
        release.wait(30)

    busy_loop = asyncio.get_running_loop()
    holding = asyncio.ensure_future(sync_to_async(hold_the_shared_thread)())
    try:
        await busy.wait()
        communicator = socket(alice_session.pk, key)
        connected, _ = await communicator.connect(timeout=5)
        assert connected
        assert 'data-frame="sync"' in await communicator.receive_from()
        await communicator.send_to(text_data="{}")
        assert "could not be read" in await communicator.receive_from()
    finally:
        release.set()
        await holding


def _forget_login(session_key: str) -> None:
    """A log-out whose message to the sockets was lost (Redis away, or back empty)."""
    from django.contrib.sessions.models import Session as Login

    from lib.rls import acting_as_auth

    with acting_as_auth():
        Login.objects.filter(session_key=session_key).delete()


async def test_a_log_out_lost_while_redis_was_away_closes_the_socket_once_redis_is_back(
    alice, alice_session, database_word_lost
):
    """The channel layer tells a socket whose groups Redis had forgotten; a log-out sent
    meanwhile had left the page open, still receiving the session's messages (found by the
    attacker's replay)."""
    from channels.layers import get_channel_layer

    from chat.replies import group_name

    key, this, other = await two_logins_open(alice, alice_session.pk)
    await sync_to_async(_forget_login)(key)
    assert await this.receive_nothing(0.2)

    await get_channel_layer().group_send(group_name(alice_session.pk), {"type": "groups.rewritten"})
    assert await closed_with(this) == 4011  # connect again: the handshake tells
    assert 'data-frame="sync"' in await other.receive_from(5)  # drawn again, still open
    await other.disconnect()
    assert await refused_at_the_handshake(alice_session.pk, key)


async def test_a_session_deleted_while_redis_was_away_closes_its_socket_once_redis_is_back(
    alice, alice_session, monkeypatch
):
    from channels.layers import get_channel_layer

    from chat import signals
    from chat.replies import group_name
    from lib.rls import acting_as_staff

    communicator = socket(alice_session.pk, await logged_in(alice))
    assert (await communicator.connect())[0]
    await communicator.receive_from()
    monkeypatch.setattr(signals, "_tell_on_commit", lambda group, message: None)  # lost

    def delete_session():
        with acting_as_staff():
            type(alice_session).objects.filter(pk=alice_session.pk).delete()

    await sync_to_async(delete_session)()
    assert await communicator.receive_nothing(0.2)
    await get_channel_layer().group_send(group_name(alice_session.pk), {"type": "groups.rewritten"})
    assert await closed_with(communicator) == 4403


async def test_a_password_changed_while_redis_was_away_closes_the_sockets_once_it_is_back(
    alice, alice_session, monkeypatch, database_word_lost
):
    """Its "password.changed" lost (Redis emptied), a login's sockets stayed open, sending and
    receiving, since the catch-up checked only that the login's session still existed; a new
    password ends the other logins, as Django's check of a page's login does (the attacker's
    recheck)."""
    from channels.layers import get_channel_layer

    from chat import signals
    from chat.replies import group_name

    key = await logged_in(alice)
    communicator = socket(alice_session.pk, key)
    assert (await communicator.connect())[0]
    await communicator.receive_from()
    monkeypatch.setattr(signals, "_tell_on_commit", lambda group, message: None)  # lost

    def change_password() -> str:
        """On the account page, from another login: that login carries on, with a new key."""
        client = Client()
        client.force_login(alice)
        form = {"old_password": PASSWORD, "new_password1": "A-new-long-pass-42"}
        client.post("/account/password/", {**form, "new_password2": "A-new-long-pass-42"})
        return client.cookies["sessionid"].value

    changer = await sync_to_async(change_password)()
    assert await communicator.receive_nothing(0.2)
    await get_channel_layer().group_send(group_name(alice_session.pk), {"type": "groups.rewritten"})
    # Connect again: this login ended, the one that chose the password holds (4401 told its
    # pages "You are logged out" too: the attacker's second recheck).
    assert await closed_with(communicator) == 4011
    old_login, new_login = socket(alice_session.pk, key), socket(alice_session.pk, changer)
    assert (await old_login.connect())[0] and (await new_login.connect())[0]
    assert await closed_with(old_login) == 4401
    assert 'data-frame="sync"' in await new_login.receive_from(5)
    await new_login.disconnect()


async def test_a_log_out_not_sent_while_redis_hung_is_sent_again_until_it_goes_through(
    alice, alice_session, monkeypatch, database_word_lost
):
    """A Redis that hung (not restarted: it forgot nothing) made the log-out's message time
    out, and the logged-out pages stayed open, still receiving the session's messages (found
    by the recheck replay)."""
    from channels.layers import get_channel_layer

    from chat import signals

    monkeypatch.setattr(signals, "SEND_AGAIN_EVERY", 0.05, raising=False)
    layer, tries = get_channel_layer(), []
    send = layer.group_send

    async def hung_twice(group, message):
        tries.append(message["type"])
        if len(tries) <= 2:
            raise TimeoutError
        await send(group, message)

    monkeypatch.setattr(layer, "group_send", hung_twice)
    key = await logged_in(alice)
    communicator = socket(alice_session.pk, key)
    assert (await communicator.connect())[0]
    await communicator.receive_from()
    client = Client()
    client.cookies["sessionid"] = key
    await sync_to_async(client.post)("/logout/")  # answered once the first try gave up

    assert await closed_with(communicator) == 4401  # before: never
    assert tries == ["login.ended"] * 3


async def test_resends_of_the_message_being_answered_redraw_the_page_once(
    alice, alice_session, fake_anthropic
):
    """Each resend read and queued the whole conversation, with no limit: a socket that never
    read, sent its message again and again, grew the process by hundreds of MB (the ops
    replay)."""
    sent = {"message": "Hallo!", "client_message_id": str(uuid.uuid4())}
    tab = await mid_reply(alice, alice_session.pk, fake_anthropic, 100, word_delay=0.02, **sent)
    for _ in range(5):
        await tab.send(**sent)
    await tab.until(FINISHED)
    assert (
        sum('data-frame="sync"' in frame for frame in tab.frames) == 2
    )  # on connecting, then once


async def test_resends_of_a_message_answered_already_redraw_the_page_once(
    alice, alice_session, settings
):
    """On a process not streaming its reply, or after it, each resend redrew the whole page
    (the ops replay's recheck: 0.9 MB each, bounded only by the message rate)."""
    settings.CHAT_MESSAGES_PER_LEARNER = "100/minute"
    settings.OFFLINE_TOKEN_DELAY = 0
    settings.ANTHROPIC_API_KEY = ""
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.send(chat="helper", message="Eins", client_message_id=str(ANSWERED))
    await tab.until(FINISHED)
    before = len(tab.frames)
    for _ in range(4):
        await tab.send(chat="helper", message="Eins", client_message_id=str(ANSWERED))
    await tab.communicator.send_to(text_data="not a frame")  # answered after the resends
    await tab.until('data-frame="notice"')
    assert sum('data-frame="sync"' in frame for frame in tab.frames[before:]) == 1


async def test_two_messages_resent_in_turn_redraw_the_page_once(alice, alice_session, settings):
    """Only the last message redrawn for was remembered: X, Y, X, Y… each redrew the whole
    page, bounded only by the message rate (the attacker's recheck)."""
    settings.CHAT_MESSAGES_PER_LEARNER = "100/minute"
    settings.OFFLINE_TOKEN_DELAY = 0
    settings.ANTHROPIC_API_KEY = ""
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    sent = [("helper", "Eins", str(uuid.uuid4())), ("main", "Hallo!", str(uuid.uuid4()))]
    for chat, message, client_id in sent:
        await tab.send(chat=chat, message=message, client_message_id=client_id)
        await tab.until(FINISHED)
    before = len(tab.frames)
    for chat, message, client_id in sent * 3:
        await tab.send(chat=chat, message=message, client_message_id=client_id)
    await tab.communicator.send_to(text_data="not a frame")  # answered after the resends
    await tab.until('data-frame="notice"')
    assert sum('data-frame="sync"' in frame for frame in tab.frames[before:]) == 1
    await tab.close()


async def test_try_again_with_nothing_to_retry_redraws_the_page_once(
    alice, alice_session, settings
):
    """Each redrew the whole conversation, bounded only by the message rate (the attacker's
    replay: 33 KB and a full read a time); once something new is drawn, it may again."""
    settings.CHAT_MESSAGES_PER_LEARNER = "100/minute"
    settings.OFFLINE_TOKEN_DELAY = 0
    settings.ANTHROPIC_API_KEY = ""
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.until('data-frame="sync"')

    async def syncs_after_retries() -> int:
        before = len(tab.frames)
        for _ in range(4):
            await tab.send(chat="helper", action="retry")
        await tab.communicator.send_to(text_data="not a frame")  # answered after the retries
        await tab.until('data-frame="notice"')
        return sum('data-frame="sync"' in frame for frame in tab.frames[before:])

    assert await syncs_after_retries() == 1
    await tab.send(chat="helper", message="Eins")
    await tab.until(FINISHED)
    assert await syncs_after_retries() == 1
    await tab.close()


async def test_a_flood_of_frames_is_dropped_before_any_work(alice, alice_session):
    """A client sending thousands of frames a second had each read, queued and answered in
    turn, and its consumer outlived it by 10 s (the ops replay's recheck)."""
    from chat.consumers import FRAMES_AT_ONCE, TOO_MANY_FRAMES

    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.until('data-frame="sync"')
    for _ in range(200):
        await tab.communicator.send_to(text_data="not a frame")
    answered = []
    while not await tab.communicator.receive_nothing(0.3):
        answered.append(await tab.receive())
    assert FRAMES_AT_ONCE <= len(answered) < FRAMES_AT_ONCE + 10  # refilled meanwhile: a few
    assert sum(TOO_MANY_FRAMES in frame for frame in answered) >= 1
