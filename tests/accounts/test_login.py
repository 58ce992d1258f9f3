import re
from html import unescape

import pytest
from django.test import Client

from accounts.models import User
from tests.conftest import PASSWORD, run_sql
from tests.journey_helpers import all_log_text, events_for


def test_login_by_email_ignores_case(client, alice):
    response = client.post("/login/", {"email": "ALICE@Example.COM", "password": PASSWORD})
    assert response.status_code == 302 and response.url == "/"
    assert "user_login_success" in events_for(alice)


def test_login_follows_a_local_next_only(client, alice):
    response = client.post(
        "/login/", {"email": alice.email, "password": PASSWORD, "next": "https://evil.test/"}
    )
    assert response.url == "/"
    client.logout()
    response = client.post(
        "/login/", {"email": alice.email, "password": PASSWORD, "next": "/history/"}
    )
    assert response.url == "/history/"


@pytest.mark.parametrize(
    "next_url", ["foo", "home", "-1", "/deck/\nERROR forged", "/a\x00b", "//x"]
)
def test_a_next_that_is_no_page_here_goes_home(client, alice, next_url):
    """ "foo" was taken for a view's name: a 500, and no login through that link; its text
    went into the error's log line, newlines and all (the attacker's replay)."""
    response = client.post(
        "/login/", {"email": alice.email, "password": PASSWORD, "next": next_url}
    )
    assert (response.status_code, response.url) == (302, "/")
    assert client.get("/login/", {"next": next_url}).url == "/"  # logged in now


def test_a_wrong_password_is_refused_and_logged_without_the_email(client, alice):
    response = client.post("/login/", {"email": alice.email, "password": "wrong"})
    assert response.status_code == 200
    assert "do not match an account" in response.content.decode()
    # The password's box, drawn empty, takes the focus, not the email's (a newcomer's walk).
    focused = re.findall(r"<input[^>]*autofocus[^>]*>", response.content.decode())
    assert len(focused) == 1 and 'name="password"' in focused[0]
    assert "user_login_failed" in events_for(alice)
    assert "alice@" not in all_log_text()


def test_a_missing_password_takes_the_focus(client, alice):
    response = client.post("/login/", {"email": alice.email, "password": ""})
    focused = re.findall(r"<input[^>]*autofocus[^>]*>", response.content.decode())
    assert len(focused) == 1 and 'name="password"' in focused[0]


def test_an_unknown_email_is_logged_without_a_user(client, db):
    client.post("/login/", {"email": "nobody@example.com", "password": "wrong"})
    text = all_log_text()
    assert "user_login_failed" in text and "nobody@" not in text


def test_a_malformed_email_gets_a_message(client, db):
    response = client.post("/login/", {"email": "nope", "password": "x"})
    assert response.status_code == 200
    assert "Enter a valid email address" in response.content.decode()


def test_a_login_without_csrf_token_is_forbidden(alice):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", {"email": alice.email, "password": PASSWORD})
    assert response.status_code == 403
    assert "nothing was changed" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_learner_pages_require_login(client, db):
    for url in ("/history/", "/account/", "/account/delete/"):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith("/login/?next=")


def _why(response) -> str:
    found = re.search(r'<p class="flash" role="status">([^<]*)</p>', response.content.decode())
    return unescape(found.group(1)) if found else ""


def test_the_login_page_says_why_it_is_shown(client, alice):
    assert _why(client.get("/login/")) == ""  # asked for: nothing to explain
    sent = client.get("/history/", follow=True)
    assert _why(sent) == "Log in to see that page."
    # A login ended where this browser did not end it (the password changed in another
    # browser, the account closed, a log-out elsewhere): its cookie outlived the session.
    client.force_login(alice)
    run_sql("DELETE FROM django_session")
    ended = client.get("/history/", follow=True)
    assert _why(ended).startswith("Your login has ended")
    # Its form refused says only what went wrong.
    refused = client.post("/login/", {"email": "alice@example.com", "password": "wrong"})
    assert _why(refused) == "" and "do not match" in refused.content.decode()


def test_another_tab_of_a_deleted_account_is_told_it_is_gone(client, alice):
    client.force_login(alice)
    response = client.post("/account/delete/", {"password": PASSWORD, "confirm": "on"})
    assert response.status_code == 302
    reloaded = client.get("/history/", follow=True)
    assert _why(reloaded).startswith("The account this browser was logged in to has been deleted")
    # Once someone logs in or signs up here, it is not said again.
    User.objects.create_user("carol@example.com", PASSWORD)
    client.post("/login/", {"email": "carol@example.com", "password": PASSWORD})
    client.logout()
    assert _why(client.get("/history/", follow=True)) == "Log in to see that page."


def test_another_tab_after_a_log_out_here_is_told_so(client, alice):
    """It said only "Log in to see that page": the log-out had deleted the session cookie (a
    newcomer's walk)."""
    client.force_login(alice)
    assert client.post("/logout/").status_code == 302
    reloaded = client.get("/history/", follow=True)
    assert _why(reloaded).startswith("You logged out in this browser")
    assert _why(client.get("/login/")) == ""  # asked for: nothing to explain
    # Once someone logs in here, it is not said again.
    client.post("/login/", {"email": "alice@example.com", "password": PASSWORD})
    client.logout()
    assert _why(client.get("/history/", follow=True)) == "Log in to see that page."
