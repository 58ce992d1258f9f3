"""Pages with a learner's content are never cached; public pages may be."""

import pytest

from scenarios import lifecycle


@pytest.mark.parametrize("path", ["/", "/history/", "/account/", "/chat"])
def test_a_learners_pages_are_private_and_not_stored(client, alice, marketplace, path):
    session = lifecycle.start_session(alice.pk, marketplace)
    client.force_login(alice)
    if path == "/chat":
        path = f"/sessions/{session.pk}/"
    cache_control = client.get(path)["Cache-Control"]
    assert "private" in cache_control and "no-store" in cache_control


def test_a_transcript_is_private_and_not_stored(client, alice, marketplace):
    from tests.conftest import complete

    session = complete(lifecycle.start_session(alice.pk, marketplace))
    client.force_login(alice)
    assert "no-store" in client.get(f"/history/{session.pk}/")["Cache-Control"]


def test_the_public_landing_page_is_not_forced_private(client, db):
    assert "no-store" not in client.get("/").get("Cache-Control", "")
