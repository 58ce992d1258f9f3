import pytest

from accounts.models import Profile, User
from lib.rls import acting_as_staff
from tests.conftest import failing_statements, staff_get
from tests.journey_helpers import all_log_text, events_for

STRONG = "Lerne-jeden-Tag-42"


def test_sign_up_creates_the_account_and_logs_in(client, db, settings):
    from django.conf import global_settings

    from maraum.settings import PASSWORD_HASHERS

    settings.PASSWORD_HASHERS = PASSWORD_HASHERS  # the real one here: Argon2
    assert PASSWORD_HASHERS != global_settings.PASSWORD_HASHERS
    response = client.post(
        "/signup/", {"email": "Carla@Example.com", "password1": STRONG, "password2": STRONG}
    )
    assert response.status_code == 302 and response.url == "/"
    user = User.objects.get(email="carla@example.com")
    assert user.password.startswith("argon2")
    assert staff_get(Profile, pk=user.pk)
    assert "Practise" in client.get("/").content.decode()
    assert "user_registered" in events_for(user)
    assert "carla@" not in all_log_text().lower()


def test_the_scene_clicked_on_the_landing_page_is_shown_after_signing_up(client, db):
    """A visitor who clicked a scene's tile landed on the whole list after signing up, their
    choice forgotten (a newcomer's walk): the picker now opens at that scene."""
    form = client.get("/signup/?scene=marketplace").content.decode()
    assert 'name="scene" value="marketplace"' in form
    response = client.post(
        "/signup/",
        {
            "email": "carla@example.com",
            "password1": STRONG,
            "password2": STRONG,
            "scene": "marketplace",
        },
    )
    assert response.status_code == 302 and response.url == "/#scene-marketplace"
    assert 'id="scene-marketplace"' in client.get("/").content.decode()


def test_a_scene_that_is_no_code_is_ignored(client, db):
    form = client.get('/signup/?scene="><script>alert(1)</script>').content.decode()
    assert "<script>alert" not in form and 'name="scene"' not in form
    response = client.post(
        "/signup/",
        {"email": "carla@example.com", "password1": STRONG, "password2": STRONG, "scene": "a b"},
    )
    assert response.status_code == 302 and response.url == "/"


def test_a_weak_password_is_refused_with_a_reason(client, db):
    response = client.post(
        "/signup/", {"email": "carla@example.com", "password1": "123", "password2": "123"}
    )
    assert response.status_code == 200
    assert "This password is too short" in response.content.decode()
    assert not User.objects.exists()
    # Under the password, whose box is marked: they were under the confirmation (a newcomer's
    # walk).
    form = response.context["form"]
    assert "This password is too short" in str(form.errors["password1"])
    assert "password2" not in form.errors


def test_a_malformed_email_is_refused(client, db):
    response = client.post(
        "/signup/", {"email": "not-an-email", "password1": STRONG, "password2": STRONG}
    )
    assert "Enter a valid email address" in response.content.decode()
    assert not User.objects.exists()


def test_an_email_in_use_in_another_case_is_refused(client, alice):
    response = client.post(
        "/signup/", {"email": "ALICE@example.com", "password1": STRONG, "password2": STRONG}
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "This email already has an account" in body  # the decision: README, Throttles
    assert 'href="/password-reset/"' in body and 'href="/login/"' in body
    assert User.objects.count() == 1


def test_an_email_that_signs_up_meanwhile_is_refused_as_in_use(client, alice, monkeypatch):
    """Six sign-ups of one email at once: one account and five 500s, each a failing INSERT
    with the password's hash and the email for the server's log (the attacker's replay). The
    form's check passed for each; the other's row landed before its own."""
    from accounts.forms import SignUpForm

    monkeypatch.setattr(SignUpForm, "validate_unique", lambda form: None)  # passed, before
    with failing_statements() as failed:
        response = client.post(
            "/signup/", {"email": "Alice@example.com", "password1": STRONG, "password2": STRONG}
        )
    assert response.status_code == 200
    assert "This email already has an account" in response.content.decode()
    assert failed == []
    with acting_as_staff():
        assert User.objects.count() == Profile.objects.count() == 1
    assert "_auth_user_id" not in client.session


def test_a_tampered_form_changes_nothing(client, db):
    response = client.post("/signup/", {"email": ["a@example.com", "b@example.com"]})
    assert response.status_code == 200
    assert not User.objects.exists()


def test_sign_ups_are_throttled_per_address_before_any_hashing(client, db):
    for n in range(10):
        client.post(
            "/signup/",
            {"email": f"bot{n}@example.com", "password1": STRONG, "password2": STRONG},
            REMOTE_ADDR="10.7.7.7",
        )
        client.post("/logout/")
    response = client.post(
        "/signup/",
        {"email": "bot10@example.com", "password1": STRONG, "password2": STRONG},
        REMOTE_ADDR="10.7.7.7",
    )
    assert "Too many sign-ups" in response.content.decode()
    assert not User.objects.filter(email="bot10@example.com").exists()


def test_sign_ups_for_one_email_are_throttled(client, alice):
    for n in range(3):
        client.post(
            "/signup/",
            {"email": alice.email, "password1": STRONG, "password2": STRONG},
            REMOTE_ADDR=f"10.8.8.{n}",
        )
    response = client.post(
        "/signup/",
        {"email": alice.email, "password1": STRONG, "password2": STRONG},
        REMOTE_ADDR="10.8.8.9",
    )
    assert "Too many sign-ups" in response.content.decode()


def test_empty_sign_ups_are_refused_as_forms_even_once_throttled(client, db):
    """An empty POST left the form unbound, and once the throttle for the empty email refused
    it, adding that error was a 500 with a traceback anyone could ask for (the recheck
    replay)."""
    for _ in range(11):  # the address's ten an hour, and one more
        response = client.post("/signup/", {}, REMOTE_ADDR="10.9.9.9")
        assert response.status_code == 200
    assert "Too many sign-ups" in response.content.decode()


def test_every_error_of_a_field_is_in_what_its_box_points_to(client, db):
    """Two errors of one field had one id each, so the box's aria-describedby named only the
    first (a newcomer's walk)."""
    import re

    page = client.post(
        "/signup/", {"email": "carla@example.com", "password1": "12345678", "password2": "12345678"}
    ).content.decode()
    assert len(re.findall(r'id="id_password1_error"', page)) == 1
    box = re.search(r"<input[^>]*name=\"password1\"[^>]*>", page).group()
    assert "id_password1_error" in box
    errors = page.split('id="id_password1_error">')[1].split("</div>")[0]
    assert "too common" in errors and "entirely numeric" in errors


def test_after_a_failed_submit_the_focus_goes_to_the_first_box_with_an_error(client, db):
    """It went to the email box, whose error was not the one (a newcomer's walk)."""
    import re

    page = client.post(
        "/signup/", {"email": "carla@example.com", "password1": "123", "password2": "123"}
    ).content.decode()
    focused = re.findall(r"<input[^>]*autofocus[^>]*>", page)
    assert len(focused) == 1 and 'name="password1"' in focused[0]


def test_typos_in_the_passwords_do_not_use_up_the_emails_sign_ups(client, db):
    """A weak password and two passwords that did not match spent the email's three sign-ups
    an hour, and the fourth, right, try was refused for 20 minutes (the newcomer's walk)."""
    for password2 in ("12345", "Lerne-jeden-Tag-41", "Lerne-jeden-Tag-43"):
        password1 = "12345" if password2 == "12345" else STRONG
        response = client.post(
            "/signup/",
            {"email": "anna.neu@example.com", "password1": password1, "password2": password2},
        )
        assert response.status_code == 200 and "Too many" not in response.content.decode()
    for _ in range(3):  # nor anyone's forms that fail for another reason (the attacker's recheck)
        client.post(
            "/signup/",
            {
                "email": "anna.neu@example.com",
                "password1": STRONG,
                "password2": STRONG,
                "level": "ZZ",
            },
        )
    response = client.post(
        "/signup/", {"email": "Anna.Neu@example.com", "password1": STRONG, "password2": STRONG}
    )
    assert response.status_code == 302
    assert User.objects.filter(email="anna.neu@example.com").exists()


@pytest.mark.parametrize(
    ("first", "again"),
    [
        ("e1@bücher.example", "e1@xn--bcher-kva.example"),
        ("e1@xn--bcher-kva.example", "E1@BÜCHER.example"),
    ],
)
def test_two_spellings_of_one_address_are_one_account(client, db, first, again):
    """A domain in Unicode and in its ASCII form were two accounts, and deleting one and
    signing up as the other gave the week's scenes back (the attacker's replay)."""
    response = client.post("/signup/", {"email": first, "password1": STRONG, "password2": STRONG})
    assert response.status_code == 302
    assert User.objects.get().email == "e1@bücher.example"
    client.post("/logout/")
    response = client.post("/signup/", {"email": again, "password1": STRONG, "password2": STRONG})
    assert "This email already has an account" in response.content.decode()
    response = client.post("/login/", {"email": again, "password": STRONG})
    assert response.status_code == 302  # and the other spelling logs in


def test_a_quoted_address_is_refused_with_a_reason(client, db):
    response = client.post(
        "/signup/", {"email": '"h1"@example.com', "password1": STRONG, "password2": STRONG}
    )
    assert "without quotation marks" in response.content.decode()
    assert not User.objects.exists()


def test_accounts_stored_in_another_spelling_get_the_one_spelling(db):
    import importlib

    from django.apps import apps

    from tests.conftest import run_sql

    User.objects.create_user("k4@bücher.example", STRONG)
    spelled = (
        "k1@xn--bcher-kva.example",
        '"k2"@example.com',
        "k3@example.com",
        "k4@xn--bcher-kva.example",
    )
    for email in spelled:  # as stored before: sign-up took them
        User.objects.create_user("placeholder@example.com", STRONG)
        run_sql(
            "UPDATE accounts_user SET email = %s WHERE email = 'placeholder@example.com'", [email]
        )
    migration = importlib.import_module("accounts.migrations.0009_one_spelling_per_email")
    migration._one_spelling(apps, None)
    assert sorted(User.objects.values_list("email", flat=True)) == [
        "k1@bücher.example",
        "k2@example.com",
        "k3@example.com",
        "k4@bücher.example",
        "k4@xn--bcher-kva.example",  # its spelling is taken: staff decide
    ]


def test_a_domain_idna_2008_refuses_is_spelled_by_idna_2003(client, db):
    """Accounts on a domain with an emoji (registries gave them out, and sign-up took them)
    could no longer log in or reset once IDNA 2008 refused their domain (the attacker's
    recheck)."""
    response = client.post(
        "/signup/", {"email": "lea@xn--i-7iq.ws", "password1": STRONG, "password2": STRONG}
    )
    assert response.status_code == 302 and User.objects.get().email == "lea@i❤.ws"
    client.post("/logout/")
    assert client.post("/login/", {"email": "LEA@i❤.ws", "password": STRONG}).status_code == 302


def test_an_account_stored_in_an_odd_spelling_still_logs_in(client, db):
    from tests.conftest import run_sql

    User.objects.create_user("placeholder@example.com", STRONG)
    run_sql("""UPDATE accounts_user SET email = '"odd"@example.com'""")  # as stored before
    response = client.post("/login/", {"email": '"odd"@example.com', "password": STRONG})
    assert response.status_code == 302
