import re

from django.core import mail

from tests.conftest import PASSWORD

NEW = "Neues-Passwort-2026"


def test_password_reset_by_email_sets_a_new_password(client, alice):
    response = client.post("/password-reset/", {"email": "ALICE@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [alice.email]
    link = re.search(r"http://testserver(/password-reset/\S+/)", mail.outbox[0].body).group(1)
    form_url = client.get(link).url  # Django swaps the token for a session marker
    response = client.post(form_url, {"new_password1": NEW, "new_password2": NEW})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password(NEW) and not alice.check_password(PASSWORD)


def test_an_unknown_email_sends_nothing_and_says_the_same(client, db):
    response = client.post("/password-reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302 and not mail.outbox


def test_a_bad_reset_link_is_explained(client, db):
    response = client.get("/password-reset/xyz/bad-token/")
    assert response.status_code == 200
    assert "no longer works" in response.content.decode()


def test_fifteen_resets_in_a_minute_send_three_emails(client, alice):
    for _ in range(15):
        client.post("/password-reset/", {"email": alice.email}, REMOTE_ADDR="10.1.1.1")
    assert len(mail.outbox) == 3
    response = client.post("/password-reset/", {"email": alice.email}, REMOTE_ADDR="10.1.1.2")
    assert "Too many reset emails" in response.content.decode()


def test_one_address_cannot_send_resets_to_everyone(client, db):
    for n in range(10):
        client.post("/password-reset/", {"email": f"x{n}@example.com"}, REMOTE_ADDR="10.9.9.9")
    response = client.post("/password-reset/", {"email": "x10@example.com"}, REMOTE_ADDR="10.9.9.9")
    assert "Too many reset emails" in response.content.decode()


def test_a_completed_reset_unlocks_a_throttled_account(client, alice):
    for _ in range(10):
        client.post("/login/", {"email": alice.email, "password": "wrong"})
    locked = client.post("/login/", {"email": alice.email, "password": PASSWORD})
    assert "Too many failed attempts" in locked.content.decode()

    client.post("/password-reset/", {"email": alice.email})
    link = re.search(r"http://testserver(/password-reset/\S+/)", mail.outbox[0].body).group(1)
    client.post(client.get(link).url, {"new_password1": NEW, "new_password2": NEW})
    response = client.post("/login/", {"email": alice.email, "password": NEW})
    assert response.status_code == 302 and "_auth_user_id" in client.session


def test_a_weak_new_password_is_refused_under_the_password(client, alice):
    client.post("/password-reset/", {"email": alice.email})
    link = re.search(r"http://testserver(/password-reset/\S+/)", mail.outbox[0].body).group(1)
    response = client.post(client.get(link).url, {"new_password1": "123", "new_password2": "123"})
    form = response.context["form"]
    assert "This password is too short" in str(form.errors["new_password1"])
    assert "new_password2" not in form.errors
