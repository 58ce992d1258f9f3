from tests.conftest import PASSWORD
from tests.journey_helpers import events_for


def _fail(client, email, address="10.0.0.1"):
    return client.post("/login/", {"email": email, "password": "wrong"}, REMOTE_ADDR=address)


def test_five_failures_lock_the_account_even_for_the_right_password(client, alice):
    for _ in range(5):
        _fail(client, alice.email, address="10.0.0.1")
    # From another address: the account itself is locked.
    response = client.post(
        "/login/", {"email": alice.email, "password": PASSWORD}, REMOTE_ADDR="10.0.0.2"
    )
    assert response.status_code == 200
    assert "Too many failed attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_five_failures_from_one_address_lock_that_address(client, alice, bob):
    for n in range(5):
        _fail(client, f"someone{n}@example.com", address="10.0.0.9")
    response = client.post(
        "/login/", {"email": bob.email, "password": PASSWORD}, REMOTE_ADDR="10.0.0.9"
    )
    assert "Too many failed attempts" in response.content.decode()
    response = client.post(
        "/login/", {"email": bob.email, "password": PASSWORD}, REMOTE_ADDR="10.0.0.10"
    )
    assert response.status_code == 302


def test_four_failures_still_allow_the_right_password(client, alice):
    for _ in range(4):
        _fail(client, alice.email)
    response = client.post("/login/", {"email": alice.email, "password": PASSWORD})
    assert response.status_code == 302
    assert "user_login_failed" in events_for(alice)


def test_the_lock_ends_with_the_window(client, alice, settings):
    settings.LOGIN_FAILURE_WINDOW = 1
    for _ in range(5):
        _fail(client, alice.email)
    from django.core.cache import cache

    cache.clear()  # what the window's expiry does; the cache drops the counters
    response = client.post(
        "/login/", {"email": alice.email, "password": PASSWORD}, REMOTE_ADDR="10.0.0.1"
    )
    assert response.status_code == 302
