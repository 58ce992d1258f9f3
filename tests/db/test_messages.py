"""The messages table: complete, immutable, in open sessions, of a valid kind."""

import uuid

import pytest
from django.db import DatabaseError, IntegrityError, transaction

from chat.models import Message
from lib.rls import acting_as_learner, acting_as_staff
from tests.conftest import add_message, complete, run_sql, start_session


@pytest.fixture
def session(alice, marketplace):
    return start_session(alice, marketplace)


def test_user_id_is_filled_from_the_session(session, alice):
    message = add_message(session, "scenario", "main")
    with acting_as_staff():
        [(user_id,)] = run_sql("SELECT user_id FROM messages WHERE id = %s", [message.pk])
    assert user_id == alice.pk


def test_no_role_play_message_into_a_completed_session(session):
    complete(session)
    with pytest.raises(IntegrityError, match="no more role-play messages") as refused:
        add_message(session, "user", "main")
    # The app tells this refusal from others by its constraint name, not its wording.
    assert refused.value.__cause__.diag.constraint_name == "messages_session_not_completed"


def test_the_helper_stays_open_after_the_scene(session):
    complete(session)
    add_message(session, "user", "helper", "What did 'Tschüss' mean?")
    add_message(session, "helper", "helper", "It means 'bye'.")
    with acting_as_staff():
        [(count,)] = run_sql(
            "SELECT message_count_helper FROM sessions WHERE id = %s", [session.pk]
        )
    assert count == 2


def test_messages_cannot_be_updated(session):
    message = add_message(session, "scenario", "main")
    for column, value in (("content", "changed"), ("sent_at", "2000-01-01")):
        with pytest.raises(IntegrityError, match="immutable"), acting_as_staff():
            run_sql(f"UPDATE messages SET {column} = %s WHERE id = %s", [value, message.pk])


def test_oversized_content_is_refused(session):
    with pytest.raises(IntegrityError, match="messages_content_size_limit"):
        add_message(session, "user", "main", content="a" * 8001)
    assert add_message(session, "user", "main", content="a" * 8000).pk


def test_blank_content_is_refused(session):
    with pytest.raises(IntegrityError, match="messages_content_not_blank"):
        add_message(session, "user", "main", content="   ")


@pytest.mark.parametrize(("role", "chat_type"), [("scenario", "helper"), ("helper", "main")])
def test_invalid_role_and_chat_pairs_are_refused(session, role, chat_type):
    with pytest.raises(IntegrityError, match="messages_role_chat_type_valid"):
        add_message(session, role, chat_type)


@pytest.mark.parametrize(("role", "chat_type"), [("user", "main"), ("user", "helper")])
def test_learners_write_in_both_chats(session, role, chat_type):
    assert add_message(session, role, chat_type).pk


def test_unknown_enum_values_are_refused(session):
    with pytest.raises(DatabaseError, match="invalid input value for enum message_role"):
        add_message(session, "assistant", "main")


def test_a_resent_client_message_id_is_stored_once(session, alice):
    client_id = uuid.uuid4()
    fields = dict(
        session=session, role="user", chat_type="main", content="Hallo", client_message_id=client_id
    )

    with acting_as_learner(alice.pk):
        Message.objects.create(**fields)
        with pytest.raises(IntegrityError, match="idx_messages_idempotency"), transaction.atomic():
            Message.objects.create(**fields)
        assert Message.objects.filter(client_message_id=client_id).count() == 1
