"""A learner downloads a finished scene as Markdown, with its goals and report."""

import re

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
    assert (
        "- die Zeitung — newspaper" in text
    )  # as the report shows it; "Freut mich!: …" read oddly
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
    assert "Schau: !\\[bild](http\\://attacker.example/p.png)" in text  # no image fetched


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
        "\\*\\*Helper:\\*\\* Say nothing.  \n\\_\\_You:\\_\\_ Ich gebe auf.  \n"
        "\\# Report  \n\\> quoted  \n\\- item  \n1\\. first  \n2\\) second  \n\\---  \n"
        "\\`\\`\\`  \nLehrer\\*innen  \n\\# Carriage  \n\\# Return"
    ) in role_play
    assert role_play.count("**") == 2  # only the real speaker's label is bold


def test_no_line_makes_structure_of_its_own_when_the_markdown_is_rendered(client, alice, kiosk):
    """Rendered as a viewer renders it (CommonMark with GitHub's tables and strikethrough):
    a line is one paragraph of text, with its line breaks (the attacker's recheck found a
    table, struck-through text and links; the newcomer's, lines run together)."""
    from markdown_it import MarkdownIt

    session = start_session(alice, kiosk)
    add_message(
        session,
        "scenario",
        "main",
        "Gut.\n| Helper: | Sag nichts |\n| --- | --- |\n~durch~ ~~gestrichen~~\n"
        "Siehe https://attacker.example/x oder www.attacker.example\n1. Brot\n2. Milch",
    )
    add_message(session, "user", "main", "Danke\r\rHelper:\r---\r```\rRest")
    # Indented after a blank line: a code block (the attacker's second recheck).
    add_message(
        session, "scenario", "main", "Gut.\n\n    **You:** nichts\n\n\tHelper: x _www.a.example"
    )
    complete(session)
    with acting_as_learner(alice.pk):
        SceneReport.objects.create(session=session)
    with acting_as_staff():  # a list item's line indented: a heading, a quote inside it
        SceneReport.objects.filter(session=session).update(
            status="ready",
            kind="model",
            content={
                "corrections": [{"wrote": "x", "better": "y", "why": "weil\n\t# Forged"}],
                "words": [{"german": "Brot\n     > zitiert", "gloss": "bread"}],
                "tip": "Gut.\n\n\t```\ncode",
            },
        )
    client.force_login(alice)
    text = client.get(f"/history/{session.pk}/export.md").content.decode()
    rendered = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(text)
    report = rendered.split("<h2>Report</h2>", 1)[1].split("<h2>Role-play", 1)[0]
    for structure in ("<h1", "<h4", "<blockquote", "<pre", "<code"):
        assert structure not in report, structure
    role_play = rendered.split("<h2>Role-play, in German</h2>", 1)[1].split("<h2>", 1)[0]
    # The three lines: the character's paragraphs, the learner's two (its blank line).
    assert role_play.count("<p>") == 6
    assert "<p>Helper:<br />\n---<br />\n```<br />\nRest</p>" in role_play
    for structure in ("<table", "<del", "<s>", "<a ", "<h1", "<h3", "<pre", "<code", "<ol", "<hr"):
        assert structure not in role_play, structure
    assert role_play.count("<strong>") == 3  # the speakers' labels only
    assert "<p>Helper: x _www.a.example</p>" in role_play
    assert "x \\_www\\.a.example" in text  # GitHub links "www." after "_" too
    assert "Gut.<br />\n| Helper: | Sag nichts |<br />" in role_play
    assert "https://attacker.example/x oder www.attacker.example<br />\n1. Brot" in role_play


def test_a_blank_line_in_a_report_field_keeps_it_in_its_list_item(client, alice, kiosk):
    """A blank line in a model's correction ended its list item: the rest of it, its reason
    and "Right:" fell out of the list (the attacker's replay)."""
    from markdown_it import MarkdownIt

    session = complete(start_session(alice, kiosk))
    with acting_as_learner(alice.pk):
        SceneReport.objects.create(session=session)
    correction = {
        "wrote": "a",
        "better": "# Heading\n\n* list\n\n\n> quote",
        "why": "weil",
        "right": "b",
    }
    with acting_as_staff():
        SceneReport.objects.filter(session=session).update(
            status="ready",
            kind="model",
            content={"corrections": [correction], "words": [{"german": "Brot", "gloss": "x\n\ny"}]},
        )
    client.force_login(alice)
    text = client.get(f"/history/{session.pk}/export.md").content.decode()
    rendered = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(text)
    report = rendered.split("<h2>Report</h2>", 1)[1].split("<h2>Role-play", 1)[0]
    items = re.findall(r"<li>(.*?)</li>", report, re.S)
    assert len(items) == 2, report
    assert "# Heading" in items[0] and "&gt; quote" in items[0] and "(Right: b)" in items[0]
    assert items[1] == "Brot — x y"  # a word's meaning on one line, as its card holds it
    assert "<p>" not in report.split("<h3>Corrections</h3>", 1)[1]


def test_an_empty_offline_report_says_so_in_the_markdown(client, alice, kiosk):
    """Its "## Report" heading stood alone, where the page says why (a newcomer's recheck)."""
    session = complete(start_session(alice, kiosk))
    with acting_as_learner(alice.pk):
        SceneReport.objects.create(session=session)
    with acting_as_staff():
        SceneReport.objects.filter(session=session).update(
            status="ready", kind="offline", content={"goals": [], "words": [], "questions": []}
        )
    client.force_login(alice)
    text = client.get(f"/history/{session.pk}/export.md").content.decode()
    report = text.split("## Report", 1)[1].split("## Role-play", 1)[0]
    assert "used none of the scene's words and asked the helper nothing" in report
