from accounts.models import Profile, User
from tests.conftest import staff_get
from tests.journey_helpers import all_log_text, events_for

STRONG = "Lerne-jeden-Tag-42"


def test_sign_up_creates_the_account_and_logs_in(client, db):
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


def test_a_weak_password_is_refused_with_a_reason(client, db):
    response = client.post(
        "/signup/", {"email": "carla@example.com", "password1": "123", "password2": "123"}
    )
    assert response.status_code == 200
    assert "This password is too short" in response.content.decode()
    assert not User.objects.exists()


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
    assert "already exists" in response.content.decode()
    assert User.objects.count() == 1


def test_a_tampered_form_changes_nothing(client, db):
    response = client.post("/signup/", {"email": ["a@example.com", "b@example.com"]})
    assert response.status_code == 200
    assert not User.objects.exists()
