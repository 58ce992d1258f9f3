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
