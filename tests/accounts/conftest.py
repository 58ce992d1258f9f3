import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def forget_login_failures():
    """Login throttling lives in the (per-process) cache: each test starts with a clean one."""
    cache.clear()
    yield
    cache.clear()
