from tests.journey_helpers import events_for


def test_logout_is_a_post_and_is_logged(client, alice):
    client.force_login(alice)
    assert client.get("/logout/").status_code == 405
    response = client.post("/logout/")
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
    assert "user_logout" in events_for(alice)
