import pytest

from chat import conversations
from chat.models import SceneReport
from lib.rls import acting_as_learner
from tests.conftest import add_message, complete


@pytest.mark.parametrize("extra", [0, 20])
def test_the_transcript_shows_both_chats_read_only(
    client, alice, marketplace, extra, django_assert_num_queries
):
    session = conversations.start(alice.pk, marketplace)
    for n in range(extra):
        add_message(session, "user", "main", f"Satz {n}")
    add_message(session, "user", "helper", "What is a Kilo?")
    complete(session)
    with acting_as_learner(alice.pk):
        SceneReport.objects.create(session=session)  # asked for when the scene completed
    client.force_login(alice)
    with django_assert_num_queries(13):  # ...its goals, the lines kept and its report
        response = client.get(f"/history/{session.pk}/")
    body = response.content.decode()
    assert "frisches Obst" in body and "What is a Kilo?" in body
    assert "<textarea" not in body and 'method="post" action="/sessions' not in body
    # Where a finished scene goes, since "End and delete" is only for one not finished (a
    # newcomer's walk asked).
    assert "one cannot be deleted on its own" in body and 'href="/account/delete/"' in body


def test_another_learners_transcript_is_404(client, alice, bob, marketplace):
    session = complete(conversations.start(alice.pk, marketplace))
    client.force_login(bob)
    response = client.get(f"/history/{session.pk}/")
    assert response.status_code == 404 and "frisches Obst" not in response.content.decode()


def test_an_active_session_is_not_a_transcript(client, alice, marketplace):
    session = conversations.start(alice.pk, marketplace)
    client.force_login(alice)
    assert client.get(f"/history/{session.pk}/").url == f"/sessions/{session.pk}/"
