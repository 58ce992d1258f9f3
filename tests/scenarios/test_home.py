import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils.html import escape

from scenarios import lifecycle
from tests.conftest import complete
from tests.journey_helpers import set_week


def test_anonymous_visitors_get_the_landing_page(client, db):
    body = client.get("/").content.decode()
    for title in ("Marketplace", "Party", "Kebab shop"):
        assert title in body
        tile = body[body.rindex("<li", 0, body.index(title)) : body.index(title)]
        # A visitor clicking a scene is shown how to play it, and then the scene.
        assert 'href="/signup/?scene=' in tile
    assert 'href="/signup/"' in body and 'href="/login/"' in body


def test_visitors_see_what_each_scene_is_and_its_levels(client, marketplace):
    """The landing page showed the titles alone until one signed up (a newcomer's walk)."""
    body = client.get("/").content.decode()
    tile = body[body.index('href="/signup/?scene=marketplace"') :]
    tile = tile[: tile.index("</li>")]
    assert escape(marketplace.description) in tile
    assert " · ".join(marketplace.suggested_levels) in tile


def test_the_picker_lists_scenarios_and_the_week(client, alice, django_assert_max_num_queries):
    client.force_login(alice)
    with django_assert_max_num_queries(14):  # the scenes, their goals, your level, cards due
        body = client.get("/").content.decode()
    assert body.index("Marketplace") < body.index("Party") < body.index("Kebab shop")
    assert "Ask what the strawberries cost" in body  # a goal
    assert "A1 · A2" in body  # suggested levels
    assert "3 of 3</strong> conversations left" in body
    assert "<time data-local-time datetime=" in body and "00:00 UTC" in body


def test_the_active_session_is_offered_first(client, alice, party):
    session = lifecycle.start_session(alice.pk, party)
    client.force_login(alice)
    body = client.get("/").content.decode()
    assert f'href="/sessions/{session.pk}/"' in body
    assert body.index("Continue Party") < body.index("Marketplace")
    # Begun, it is not counted yet, and the page says when it will be (a newcomer took the
    # unchanged count for a mistake: a newcomer's walk).
    assert "3 of 3</strong> conversations left this week: a scene counts once it is finished" in (
        body
    )


def test_the_picker_counts_this_weeks_completions(client, alice, marketplace):
    complete(lifecycle.start_session(alice.pk, marketplace))
    client.force_login(alice)
    assert "2 of 3</strong>" in client.get("/").content.decode()


def test_a_reached_limit_shows_the_reset(client, alice):
    set_week(alice, completed=3)
    client.force_login(alice)
    assert "this week's 3 conversations" in client.get("/").content.decode()


def test_the_picker_says_the_level_chosen_at_start_becomes_the_learners(client, alice, marketplace):
    """Starting at A1 made A1 the account's level, and the picker did not say so (a newcomer's
    walk)."""
    client.force_login(alice)
    note = "which becomes your level for the next ones too"
    assert note in client.get("/").content.decode()
    set_week(alice, completed=3)  # nothing to start: no level to choose
    assert note not in client.get("/").content.decode()


def test_an_overdue_week_shows_as_fresh(client, alice):
    set_week(alice, completed=3, resets_at=datetime.now(UTC) - timedelta(minutes=5))
    client.force_login(alice)
    assert "3 of 3</strong>" in client.get("/").content.decode()


def test_pages_carry_a_strict_content_security_policy(client, db):
    policy = client.get("/").headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy
    assert "unsafe-inline" not in policy


@pytest.mark.parametrize("finished", [1, 12])
def test_the_picker_costs_the_same_queries_whatever_the_history(
    client, alice, marketplace, party, finished, django_assert_num_queries
):
    for _ in range(finished):
        complete(lifecycle.start_session(alice.pk, marketplace))
        set_week(alice, completed=0)
    lifecycle.start_session(alice.pk, party)
    client.force_login(alice)
    with django_assert_num_queries(14):
        body = client.get("/").content.decode()
    assert "Continue Party" in body


def test_a_scene_started_a_moment_ago_says_just_now(client, alice, marketplace):
    lifecycle.start_session(alice.pk, marketplace)
    client.force_login(alice)
    body = client.get("/").content.decode()
    assert "started just now" in body and "0 minutes" not in body


@pytest.mark.parametrize("logged_in", [True, False])
def test_each_scene_of_the_picker_is_a_heading(client, alice, logged_in):
    """A screen reader went from scene to scene only through each card's three controls, 19
    Tabs to a middle scene's Start (the last note's left item): a heading a scene, it jumps.
    On the page for visitors too (a newcomer's recheck)."""
    if logged_in:
        client.force_login(alice)
    body = client.get("/").content.decode()
    for title in ("Marketplace", "Party", "Kebab shop"):
        card = body[body.rindex("<li", 0, body.index(f">{title}")) :]
        card = card[: card.index("</li>")]
        assert re.search(
            f'<h3 class="scenario-title"[^>]*>{title}(<span[^>]*>[^<]*</span>)?</h3>', card
        )


def test_the_picker_says_when_a_scene_is_suggested_above_the_learners_level(client, alice):
    """An A1 learner was offered A2 · B1 scenes at A1 without a word (a newcomer's walk)."""
    from accounts import levels

    client.force_login(alice)
    levels.set_level(alice.pk, "A1")
    cards = client.get("/").content.decode().split('class="scenario-card"')[1:]
    said = {
        re.search(r'id="scene-([\w-]+)"', card)[1]: "Suggested from A2, a step up from your A1"
        in card
        for card in cards
    }
    assert said["pharmacy"] and not said["marketplace"] and not said["party"]
    levels.set_level(alice.pk, "A2")
    assert "a step up from your" not in client.get("/").content.decode()
    assert "below your" not in client.get("/").content.decode()


def test_the_picker_says_when_a_scene_is_suggested_below_the_learners_level(client, alice):
    """It said when a scene was above the learner's level, not when below (the last note)."""
    from accounts import levels

    client.force_login(alice)
    levels.set_level(alice.pk, "B1")
    cards = client.get("/").content.decode().split('class="scenario-card"')[1:]
    said = {
        re.search(r'id="scene-([\w-]+)"', card)[1]: "Suggested up to A2, below your B1" in card
        for card in cards
    }
    assert said["marketplace"] and not said["party"] and not said["pharmacy"]
