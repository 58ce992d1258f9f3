"""Login throttling (accounts/logins.py): guessing is slowed, nobody is locked out for long,
learners behind one address do not lock each other out, a learner's own browser still gets
in, a reset unlocks at once, and /admin/login/ is the same door."""

import pytest
from django.test import Client

from accounts import throttles
from tests.conftest import PASSWORD, run_sql
from tests.journey_helpers import all_log_text, events_for


def _login(client, email, password=PASSWORD, address="10.0.0.1"):
    return client.post("/login/", {"email": email, "password": password}, REMOTE_ADDR=address)


def _fail(client, email, address="10.0.0.1"):
    return _login(client, email, "wrong", address)


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def _let_an_hour_pass():
    with throttles_as_staff():
        run_sql("UPDATE throttle_buckets SET updated_at = updated_at - interval '1 hour'")


def throttles_as_staff():
    from lib.rls import acting_as_staff

    return acting_as_staff()


def test_ten_failures_slow_the_account_down_and_say_how_to_get_in(alice):
    attacker = Client()
    for n in range(10):
        _fail(attacker, alice.email, address=f"203.0.113.{n}")  # from many addresses
    stranger = Client()  # a browser that never logged in to this account
    response = _login(stranger, alice.email, address="198.51.100.7")
    assert not _logged_in(stranger)
    page = response.content.decode()
    assert "Too many failed attempts for this account" in page
    assert "reset your password" in page and "minutes" in page


def test_nine_failures_still_let_the_right_password_in(client, alice):
    for _ in range(9):
        _fail(client, alice.email)
    assert _login(client, alice.email).status_code == 302 and _logged_in(client)


def test_the_learners_own_browser_still_gets_in_while_someone_guesses(alice):
    own = Client()
    _login(own, alice.email)  # logged in here before: this browser has a device cookie
    own.post("/logout/")
    attacker = Client()
    for n in range(15):
        _fail(attacker, alice.email, address=f"203.0.113.{n}")
    assert not _logged_in(attacker)
    assert _login(own, alice.email, address="192.0.2.50").status_code == 302
    assert _logged_in(own)


def test_learners_behind_one_address_do_not_lock_each_other_out(alice, bob):
    school = "10.20.30.40"
    for _ in range(12):
        _fail(Client(), alice.email, address=school)
    bobs_browser = Client()
    assert _login(bobs_browser, bob.email, address=school).status_code == 302


def test_an_address_that_fails_a_hundred_times_is_slowed_down(bob):
    scanner = "10.66.66.66"
    for n in range(100):
        _fail(Client(), f"someone{n}@example.com", address=scanner)
    response = _login(Client(), bob.email, address=scanner)
    assert "Too many failed logins from your network" in response.content.decode()
    assert _login(Client(), bob.email, address="10.66.66.67").status_code == 302


def test_the_account_refills_with_time(client, alice):
    for _ in range(10):
        _fail(client, alice.email)
    assert not _logged_in(client) and _login(client, alice.email).status_code == 200
    _let_an_hour_pass()  # the bucket refills ten attempts an hour
    assert _login(client, alice.email).status_code == 302


def test_a_password_reset_unlocks_the_account_at_once(client, alice):
    for _ in range(10):
        _fail(client, alice.email)
    from accounts.logins import unlock_account

    unlock_account(alice)  # what a successful reset does (tested end to end elsewhere)
    assert _login(client, alice.email).status_code == 302


def test_failures_and_refusals_are_logged_without_the_email(client, alice):
    for _ in range(11):
        _fail(client, alice.email)
    assert "user_login_failed" in events_for(alice)
    text = all_log_text()
    assert "'reason': 'throttled'" in text and "login-account" in text
    assert alice.email not in text


def test_the_counts_live_in_the_database_not_in_a_process(client, alice):
    _fail(client, alice.email)
    with throttles_as_staff():
        [(tokens,)] = run_sql(
            "SELECT tokens FROM throttle_buckets WHERE key = %s",
            [throttles.LOGIN_PER_ACCOUNT.key(str(alice.pk))],
        )
    assert tokens == 9  # and no email in the key: a salted hash
    assert alice.email not in throttles.LOGIN_PER_ACCOUNT.key(alice.email)


def test_the_admin_login_is_the_same_door(client, alice):
    alice.is_staff = True
    alice.save()
    response = client.get("/admin/login/?next=/admin/scenarios/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=%2Fadmin%2Fscenarios%2F"
    for _ in range(20):
        _fail(client, alice.email)
    assert not _logged_in(Client()) and "Too many" in _login(Client(), alice.email).content.decode()
    assert "user_login_failed" in events_for(alice)


def test_staff_log_in_through_it_and_land_in_the_admin(client, alice):
    alice.is_staff = True
    alice.save()
    response = client.post(
        "/login/", {"email": alice.email, "password": PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_another_spelling_of_the_same_email_is_the_same_account(db):
    """The database matches emails as citext, where 'İ' lowers to 'i' (Python's casefold makes
    'i̇' of it): an account's bucket is keyed by the account, so no spelling gets a fresh one."""
    from accounts.models import User

    User.objects.create_user("kiki@example.com", PASSWORD)
    if not User.objects.filter(email="k\u0130ki@example.com").exists():
        pytest.skip("this server's collation keeps 'İ' and 'i' apart: no second spelling")
    for _ in range(10):
        _fail(Client(), "kiki@example.com")
    response = _login(Client(), "k\u0130ki@example.com")  # the same account to the database
    assert "Too many failed attempts" in response.content.decode()
