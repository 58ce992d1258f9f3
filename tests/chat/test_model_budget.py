"""The daily model budget: every model call spends one, a learner is told when it runs low and
when it is used up, nothing is stored then, and re-creating the account does not reset it."""

from asgiref.sync import sync_to_async

from accounts.deletion import delete_account
from accounts.models import User
from chat import allowance as throttles
from tests.chat.conftest import FINISHED, Tab, chat_db, events, settle, stored
from tests.conftest import PASSWORD

pytestmark = chat_db


async def test_todays_model_calls_run_out_and_the_learner_is_told(
    alice, alice_session, offline, settings
):
    settings.MODEL_CALLS_PER_DAY = 3
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.send(chat="helper", message="Eins")
    assert "2 replies left today" in await tab.until('data-frame="learner-message"')
    await tab.until(FINISHED)
    await tab.send(chat="helper", message="Zwei")
    await tab.until(FINISHED)
    await tab.send(chat="main", message="Drei")
    assert "0 replies left today" in await tab.until('data-frame="learner-message"')
    await tab.until(FINISHED)
    await tab.send(chat="main", message="Vier")
    notice = await tab.until('data-frame="notice"')
    await settle()
    await tab.close()
    assert "used today&#x27;s replies" in notice and "the next in" in notice
    assert "Vier" not in str(await stored(alice_session.pk))
    [(_, level, metadata)] = await events("rate_limit_exceeded")
    assert level == "warn" and metadata["throttle"] == "model-calls"


async def test_a_resend_costs_nothing(alice, alice_session, offline, settings):
    settings.MODEL_CALLS_PER_DAY = 2
    tab = Tab(alice, alice_session.pk)
    await tab.connect()
    await tab.receive()  # the sync on connecting
    same = "0d7bb2a1-39cd-4b1f-9f70-6a1e1e3b44d2"
    await tab.send(chat="helper", message="Eins", client_message_id=same)
    await tab.until(FINISHED)
    for _ in range(2):
        await tab.send(chat="helper", message="Eins", client_message_id=same)
    await tab.communicator.send_to(text_data="not a frame")  # answered after the resends
    await tab.until('data-frame="notice"')
    await settle()
    await tab.close()
    left = await sync_to_async(throttles.MODEL_CALLS.tokens_left)(alice.email)
    assert round(left) == 1


def test_deleting_and_recreating_the_account_keeps_what_was_spent(alice, settings):
    settings.MODEL_CALLS_PER_DAY = 10
    for _ in range(7):
        throttles.MODEL_CALLS.take(alice.email)
    delete_account(alice)
    User.objects.create_user(alice.email, PASSWORD)
    assert round(throttles.MODEL_CALLS.tokens_left(alice.email)) == 3
