from tests.journey_helpers import events_for


def test_logout_is_a_post_and_is_logged(client, alice):
    client.force_login(alice)
    assert client.get("/logout/").status_code == 405
    response = client.post("/logout/")
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
    assert "user_logout" in events_for(alice)


def test_a_page_whose_login_ended_goes_to_log_in_instead_of_drawing_the_login_form_in_it(
    client, alice, marketplace
):
    """htmx followed the log-in redirect itself and drew the whole login page in place of the
    helper chat's "Show earlier" (the attacker's replay): the page is sent to log in, and back
    to itself after."""
    from chat import conversations

    session = conversations.start(alice.pk, marketplace)
    page = f"http://testserver/sessions/{session.pk}/"
    response = client.get(
        f"/sessions/{session.pk}/earlier/helper/?before={session.pk}",
        headers={"HX-Request": "true", "HX-Current-URL": page},
    )
    assert response["HX-Redirect"] == f"/login/?next=/sessions/{session.pk}/"
    assert b"<form" not in response.content
    # A plain request still gets the redirect it always got.
    plain = client.get(f"/sessions/{session.pk}/earlier/helper/?before={session.pk}")
    assert plain.status_code == 302 and plain["Location"].startswith("/login/?next=")
