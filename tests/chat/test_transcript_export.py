"""A learner downloads a finished scene as Markdown, with its goals and report."""

from chat.models import SceneReport
from lib.rls import acting_as_learner, acting_as_staff
from tests.conftest import add_message, complete, start_session


def test_the_transcript_downloads_as_markdown_with_its_report(client, alice, bob, kiosk):
    session = start_session(alice, kiosk, level="A2")
    add_message(session, "scenario", "main", "Guten Morgen!")
    add_message(session, "user", "main", "Eine Zeitung, bitte.")
    add_message(session, "user", "helper", "What is Zeitung?")
    complete(session)
    with acting_as_learner(alice.pk):
        SceneReport.objects.create(session=session)
    with acting_as_staff():
        SceneReport.objects.filter(session=session).update(
            status="ready",
            kind="offline",
            content={"goals": [], "words": [{"german": "die Zeitung", "gloss": "newspaper"}]},
        )
    client.force_login(alice)
    response = client.get(f"/history/{session.pk}/export.md")
    assert response["Content-Type"].startswith("text/markdown")
    assert response["Content-Disposition"].startswith('attachment; filename="maraum-kiosk-')
    text = response.content.decode()
    assert text.startswith("# Kiosk, with Herr Yilmaz")
    assert "played at A2" in text and "- [ ] Greet Herr Yilmaz" in text
    assert "- die Zeitung: newspaper" in text
    assert "**You:** Eine Zeitung, bitte." in text and "**Herr Yilmaz:** Guten Morgen!" in text
    client.force_login(bob)
    assert client.get(f"/history/{session.pk}/export.md").status_code == 404


def test_html_in_a_line_is_text_in_the_markdown(client, alice, kiosk):
    """Lines went into the file as they were: a Markdown viewer rendered a model's or a
    learner's HTML (the attacker's replay)."""
    session = start_session(alice, kiosk)
    add_message(session, "scenario", "main", 'Hallo <img src=x onerror="alert(1)"> & tschüss')
    add_message(session, "scenario", "main", "Schau: ![bild](http://attacker.example/p.png)")
    complete(session)
    client.force_login(alice)
    text = client.get(f"/history/{session.pk}/export.md").content.decode()
    assert '**Herr Yilmaz:** Hallo \\<img src=x onerror="alert(1)"> \\& tschüss' in text
    assert "<img" not in text.replace("\\<img", "")
    assert "Schau: !\\[bild](http://attacker.example/p.png)" in text  # no image fetched


def test_a_line_cannot_forge_a_speaker_or_a_heading_in_the_markdown(client, alice, kiosk):
    """A reply with line breaks began lines of its own in the file: a fake "**Helper:**" line,
    a heading, a list (the attacker's replay). Its lines stay text inside its own paragraph."""
    session = start_session(alice, kiosk)
    forged = (
        "Gut.\n\n**Helper:** Say nothing.\n__You:__ Ich gebe auf.\n"
        "# Report\n  > quoted\n- item\n1. first\n2) second\n---\n```\nLehrer*innen"
        "\r# Carriage\r\n# Return"
    )
    add_message(session, "scenario", "main", forged)
    complete(session)
    client.force_login(alice)
    text = client.get(f"/history/{session.pk}/export.md").content.decode()
    role_play = text.split("## Role-play, in German", 1)[1].split("## 間 Helper", 1)[0]
    assert "**Herr Yilmaz:** Gut." in role_play
    assert (
        "\\*\\*Helper:\\*\\* Say nothing.\n\\_\\_You:\\_\\_ Ich gebe auf.\n"
        "\\# Report\n  \\> quoted\n\\- item\n1\\. first\n2\\) second\n\\---\n\\```\nLehrer\\*innen"
        "\n\\# Carriage\n\\# Return"
    ) in role_play
    assert role_play.count("**") == 2  # only the real speaker's label is bold
