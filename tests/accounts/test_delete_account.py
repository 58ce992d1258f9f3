from accounts.models import Profile, User
from chat import conversations
from chat.models import Message
from eventlog.models import Log
from lib.rls import acting_as_staff
from scenarios.models import Session
from tests.conftest import PASSWORD, complete


def test_deleting_the_account_removes_everything_of_the_learner(client, alice, bob, marketplace):
    complete(conversations.start(alice.pk, marketplace))
    conversations.start(alice.pk, marketplace)
    conversations.start(bob.pk, marketplace)
    client.force_login(alice)
    response = client.post("/account/delete/", {"password": PASSWORD, "confirm": "on"})
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
    with acting_as_staff():
        assert not User.objects.filter(pk=alice.pk).exists()
        assert not Profile.objects.filter(pk=alice.pk).exists()
        assert not Session.objects.filter(user_id=alice.pk).exists()
        assert not Message.objects.filter(user_id=alice.pk).exists()
        assert Session.objects.filter(user_id=bob.pk).count() == 1
        deleted = Log.objects.get(event_type="account_deleted")
    assert deleted.metadata["sessions_deleted"] == 2
    assert deleted.metadata["messages_deleted"] == 4
    assert "alice@" not in repr(deleted.metadata)


def test_a_wrong_password_deletes_nothing(client, alice):
    client.force_login(alice)
    response = client.post("/account/delete/", {"password": "wrong", "confirm": "on"})
    assert response.status_code == 200
    assert "not your password" in response.content.decode()
    assert User.objects.filter(pk=alice.pk).exists()


def test_without_the_confirmation_nothing_is_deleted(client, alice):
    client.force_login(alice)
    response = client.post("/account/delete/", {"password": PASSWORD})
    assert response.status_code == 200
    assert User.objects.filter(pk=alice.pk).exists()


def test_the_account_page_shows_the_learner(client, alice, django_assert_max_num_queries):
    client.force_login(alice)
    with django_assert_max_num_queries(9):
        response = client.get("/account/")
    assert alice.email in response.content.decode()


def test_a_borrowed_login_cannot_guess_the_password_here_faster_than_at_the_login(client, alice):
    client.force_login(alice)
    for _ in range(10):
        client.post("/account/delete/", {"password": "wrong", "confirm": "on"})
    response = client.post("/account/delete/", {"password": PASSWORD, "confirm": "on"})
    assert "Too many wrong passwords" in response.content.decode()
    assert User.objects.filter(pk=alice.pk).exists()


def test_the_unticked_box_says_what_to_do_and_password_managers_know_the_account(client, alice):
    client.force_login(alice)
    page = client.post("/account/delete/", {"password": PASSWORD}).content.decode()
    assert "Tick this box to say you understand." in page
    assert f'autocomplete="username" value="{alice.email}" hidden' in page


def test_the_unticked_box_takes_the_focus(client, alice):
    import re

    client.force_login(alice)
    page = client.post("/account/delete/", {"password": PASSWORD}).content.decode()
    focused = re.findall(r"<input[^>]*autofocus[^>]*>", page)
    assert len(focused) == 1 and 'name="confirm"' in focused[0]
