import pytest


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """These tests are about the commands, not about hashing: skip PBKDF2's deliberate slowness."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
