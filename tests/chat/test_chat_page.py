"""The chat page: the learner's own active session only, rendered from the database."""

from django.utils.html import escape

from tests.conftest import add_message, complete, start_session


def _session_with_openings(user, scenario):
    session = start_session(user, scenario)
    add_message(session, "scenario", "main", scenario.initial_message_main)
    add_message(session, "helper", "helper", scenario.initial_message_helper)
    return session


def test_the_chat_page_shows_both_chats_and_the_socket(client, alice, marketplace):
    session = _session_with_openings(alice, marketplace)
    client.force_login(alice)
    response = client.get(f"/sessions/{session.pk}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert escape(marketplace.initial_message_main) in body
    assert escape(marketplace.initial_message_helper) in body
    assert f'ws-connect="/ws/sessions/{session.pk}/"' in body
    assert 'maxlength="1000"' in body
    assert "<script>" not in body  # no inline scripts: CSP-ready


def test_offline_mode_is_announced(client, alice, marketplace, settings):
    settings.ANTHROPIC_API_KEY = ""
    session = _session_with_openings(alice, marketplace)
    client.force_login(alice)
    assert "Offline mode" in client.get(f"/sessions/{session.pk}/").content.decode()
    settings.ANTHROPIC_API_KEY = "sk-test"
    assert "Offline mode" not in client.get(f"/sessions/{session.pk}/").content.decode()


def test_another_learners_session_is_a_404(client, alice, bob, marketplace):
    session = _session_with_openings(alice, marketplace)
    client.force_login(bob)
    assert client.get(f"/sessions/{session.pk}/").status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, alice, marketplace):
    session = _session_with_openings(alice, marketplace)
    response = client.get(f"/sessions/{session.pk}/")
    assert response.status_code == 302 and "login" in response["Location"]


def test_a_completed_session_opens_its_transcript(client, alice, marketplace):
    session = complete(_session_with_openings(alice, marketplace))
    client.force_login(alice)
    response = client.get(f"/sessions/{session.pk}/")
    assert response.status_code == 302 and response["Location"] == f"/history/{session.pk}/"


def test_the_page_renders_with_a_fixed_number_of_queries(
    client, alice, marketplace, django_assert_max_num_queries
):
    session = _session_with_openings(alice, marketplace)
    for index in range(20):
        add_message(session, "user" if index % 2 else "scenario", "main", f"Satz {index}")
    client.force_login(alice)
    with django_assert_max_num_queries(14):
        assert client.get(f"/sessions/{session.pk}/").status_code == 200
