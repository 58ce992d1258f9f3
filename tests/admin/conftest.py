import pytest

from accounts.models import User
from tests.conftest import PASSWORD


@pytest.fixture
def staff(db) -> User:
    return User.objects.create_user("staff@example.com", PASSWORD, is_staff=True)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """These tests are about the admin, not about hashing: skip PBKDF2's deliberate slowness."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
