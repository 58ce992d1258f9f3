import re

import pytest
from django.test import Client

from accounts.models import User
from lib.staff_admin import DRAWN_AS
from tests.conftest import PASSWORD

DRAWN = re.compile(rf'name="{DRAWN_AS}" value="([0-9a-f]+)"')


class DrawingClient(Client):
    """Posts a change form as a browser does: drawn first, with the digest of the row as it
    was drawn (lib.staff_admin.StaffModelAdmin refuses a form without it)."""

    def post(self, path, data=None, *args, **kwargs):
        if isinstance(data, dict) and str(path).endswith("/change/") and DRAWN_AS not in data:
            drawn = DRAWN.search(self.get(path).content.decode())
            if drawn:
                data = {**data, DRAWN_AS: drawn[1]}
        return super().post(path, data, *args, **kwargs)


@pytest.fixture
def staff(db) -> User:
    return User.objects.create_user("staff@example.com", PASSWORD, is_staff=True)


@pytest.fixture
def staff_client(staff):
    client = DrawingClient()
    client.force_login(staff)
    return client
