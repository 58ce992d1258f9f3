from accounts.rls import acting_as_staff
from eventlog.models import Log
from scenarios import lifecycle
from tests.conftest import add_message, complete


def test_coming_back_restores_the_session(client, alice, party):
    session = lifecycle.start_session(alice.pk, party)
    client.force_login(alice)
    body = client.get(f"/sessions/{session.pk}/").content.decode()
    assert "Lena" in body and "German" in body and "Helper" in body
    with acting_as_staff():
        assert Log.objects.filter(event_type="session_restored", session_id=session.pk).exists()


def test_messages_show_in_their_pane_in_order(client, alice, party, django_assert_max_num_queries):
    session = lifecycle.start_session(alice.pk, party)
    add_message(session, "user", "main", "Ich heiße Alice.")
    add_message(session, "user", "helper", "How do I say nice to meet you?")
    client.force_login(alice)
    with django_assert_max_num_queries(14):
        body = client.get(f"/sessions/{session.pk}/").content.decode()
    main_pane, helper_pane = body.split('id="helper-messages"')
    assert main_pane.index("schön, dass du da bist") < main_pane.index("Ich heiße Alice.")
    assert "nice to meet you?" in helper_pane and "Ich heiße" not in helper_pane


def test_another_learners_session_is_404(client, alice, bob, party):
    session = lifecycle.start_session(alice.pk, party)
    client.force_login(bob)
    response = client.get(f"/sessions/{session.pk}/")
    assert response.status_code == 404
    assert "Lena" not in response.content.decode()
    assert client.post(f"/sessions/{session.pk}/abandon/").status_code == 404


def test_a_completed_session_leads_to_its_transcript(client, alice, party):
    session = complete(lifecycle.start_session(alice.pk, party))
    client.force_login(alice)
    assert client.get(f"/sessions/{session.pk}/").url == f"/history/{session.pk}/"


def test_a_malformed_session_id_is_404(client, alice):
    client.force_login(alice)
    assert client.get("/sessions/not-a-uuid/").status_code == 404
