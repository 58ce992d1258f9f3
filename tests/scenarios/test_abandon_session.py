from lib.rls import acting_as_staff
from scenarios import lifecycle
from scenarios.models import Session
from tests.journey_helpers import events_for


def test_abandoning_deletes_the_session_and_logs_it(client, alice, party):
    session = lifecycle.start_session(alice.pk, party)
    client.force_login(alice)
    response = client.post(f"/sessions/{session.pk}/abandon/")
    assert response.status_code == 302
    with acting_as_staff():
        assert not Session.objects.filter(pk=session.pk).exists()
    assert "scenario_abandoned" in events_for(alice)
    assert client.post(f"/sessions/{session.pk}/abandon/").status_code == 404
