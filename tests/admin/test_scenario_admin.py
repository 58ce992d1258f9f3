"""Scenario admin: staff author and order scenes, with their goals; an incomplete scene
cannot be active; a scenario with sessions is deactivated, never deleted."""

import re
from html import unescape

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from scenarios.models import Goal, Scenario, both_ways, left_out_one_way
from tests.conftest import as_staff_type_it, start_session

LIST_FIELDS = ("vocabulary", "offline_lines", "offline_tips")

CHANGELIST = reverse("admin:scenarios_scenario_changelist")


def edit_form(scenario: Scenario, **changes) -> dict:
    """The change form as the admin fills it for `scenario`, goals included, with `changes`."""
    data = {
        field: getattr(scenario, field)
        for field in (
            "title",
            "emoji",
            "code",
            "description",
            "character_name",
            "character_brief",
            "initial_message_main",
            "initial_message_helper",
            "sort_order",
        )
    }
    data.update({field: as_staff_type_it(field, getattr(scenario, field)) for field in LIST_FIELDS})
    data["suggested_levels"] = scenario.suggested_levels
    if scenario.is_active:
        data["is_active"] = "on"
    goals = list(scenario.goals.all())
    data.update(
        {
            "goals-TOTAL_FORMS": str(len(goals)),
            "goals-INITIAL_FORMS": str(len(goals)),
            "goals-MIN_NUM_FORMS": "0",
            "goals-MAX_NUM_FORMS": "5",
        }
    )
    for index, goal in enumerate(goals):
        data.update(
            {
                f"goals-{index}-id": str(goal.pk),
                f"goals-{index}-scenario": str(scenario.pk),
                f"goals-{index}-position": str(goal.position),
                f"goals-{index}-text": goal.text,
                f"goals-{index}-offline_pattern": goal.offline_pattern,
                f"goals-{index}-offline_asked_in": ",".join(map(str, goal.offline_asked_in)),
                f"goals-{index}-offline_answered_in": str(goal.offline_answered_in or ""),
            }
        )
        if goal.offline_goes_on_after_answer:
            data[f"goals-{index}-offline_goes_on_after_answer"] = "on"
    data.update(changes)
    return data


def test_staff_edit_every_field(staff_client, party):
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    response = staff_client.post(
        url,
        edit_form(
            party,
            title="Birthday party",
            emoji="🎂",
            code="birthday",
            sort_order="7",
            suggested_levels=["B1"],
            **{"goals-0-text": "Say happy birthday"},
        ),
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    party.refresh_from_db()
    assert (party.title, party.emoji, party.code, party.sort_order) == (
        "Birthday party",
        "🎂",
        "birthday",
        7,
    )
    assert party.suggested_levels == ["B1"]
    assert party.goals.first().text == "Say happy birthday"
    assert LogEntry.objects.filter(object_id=str(party.pk)).exists()


def test_a_goal_pattern_that_is_no_regular_expression_is_refused(staff_client, party):
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    response = staff_client.post(url, edit_form(party, **{"goals-0-offline_pattern": "(hallo"}))
    assert response.status_code == 200
    assert "Not a valid regular expression" in response.content.decode()


def test_the_lines_asking_for_a_goal_are_lines_of_the_script(staff_client, party):
    """Offline, the character passes over a line asking for a goal once it is reached: staff
    name the lines, which must be lines the script has, as saved with them."""
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    lines = len(party.offline_lines)
    response = staff_client.post(url, edit_form(party, **{"goals-1-offline_asked_in": "1,3"}))
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert party.goals.get(position=2).offline_asked_in == [1, 3]
    for asked, script in [(str(lines + 1), party.offline_lines), ("3", party.offline_lines[:2])]:
        form = edit_form(party, **{"goals-0-offline_asked_in": asked})
        form["offline_lines"] = "\n".join(script)
        response = staff_client.post(url, form)
        assert response.status_code == 200
        assert (
            f"The offline script has {len(script)} lines: there is no line {asked}."
            in response.content.decode()
        )
    party.refresh_from_db()
    assert len(party.offline_lines) == lines
    assert party.goals.get(position=1).offline_asked_in == []


def test_the_line_answering_a_goal_is_a_line_of_the_script_before_its_last(staff_client, party):
    """Offline, a goal reached is answered with the line staff name for it: one the script
    has, and not its last, which closes the scene."""
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    lines = len(party.offline_lines)
    for wrong in (lines, lines + 5):
        response = staff_client.post(
            url, edit_form(party, **{"goals-0-offline_answered_in": wrong})
        )
        assert response.status_code == 200
        assert (
            f"The offline script has {lines} lines: the answer is one of lines 1 to {lines - 1}"
            in response.content.decode()
        )
    body = staff_client.post(url, edit_form(party, **{"goals-0-offline_answered_in": "-1"}))
    assert "greater than or equal to 1" in body.content.decode()  # it said 0, also refused
    # In the digits 0 to 9: an Arabic-Indic "٣" was taken as line 3.
    body = staff_client.post(url, edit_form(party, **{"goals-0-offline_answered_in": "\u0663"}))
    assert "Enter a whole number." in body.content.decode()
    assert party.goals.get(position=1).offline_answered_in is None
    form = edit_form(party)
    form["goals-0-offline_goes_on_after_answer"] = "on"  # after no line
    assert "Say which line answers the goal" in staff_client.post(url, form).content.decode()
    form = edit_form(party, **{"goals-0-offline_answered_in": "1"})
    form["goals-0-offline_goes_on_after_answer"] = "on"
    assert staff_client.post(url, form).status_code == 302
    goal = party.goals.get(position=1)
    assert (goal.offline_answered_in, goal.offline_goes_on_after_answer) == (1, True)


def test_the_goals_say_how_many_a_scene_may_have(staff_client, party):
    """At the fifth, "Add another Goal" went with no word why (a newcomer's walk)."""
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    assert "Goals (at most 5)" in staff_client.get(url).content.decode()


@pytest.mark.parametrize(
    ("typed", "told"),
    [
        *(
            (typed, "Write the lines' numbers (1 for the script's first) with commas between them")
            # Nor in other digits: an Arabic-Indic "٣" was taken as line 3.
            for typed in ("six", "2, drei", "2;3", "-1", "\u0663", "2,\uff13")
        ),
        ("99999", "There is no line 99999."),  # (the attacker's replay: said after a colon)
        ("2,40", "The offline script has 12 lines: there is no line 40."),
    ],
)
def test_asking_lines_typed_wrong_are_told_how_to_write_them(staff_client, party, typed, told):
    """ "six" was told "Item 1 in the array did not validate: Enter a whole number." (a
    newcomer's walk)."""
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    response = staff_client.post(url, edit_form(party, **{"goals-0-offline_asked_in": typed}))
    page = unescape(response.content.decode())
    assert told in page
    assert "in the array" not in page


def test_a_goal_is_not_answered_in_a_line_that_asks_for_it(staff_client, party):
    """Offline, a goal's asking lines are skipped once it is reached, and its answer said
    then: a line that did both asked again for what the learner had just done (it was
    accepted)."""
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    form = edit_form(
        party, **{"goals-0-offline_asked_in": "2,3", "goals-0-offline_answered_in": "3"}
    )
    response = staff_client.post(url, form)
    assert response.status_code == 200
    assert "Line 3 asks for this goal: it cannot answer it too." in unescape(
        response.content.decode()
    )
    assert party.goals.get(position=1).offline_answered_in is None
    form = edit_form(party, **{"goals-1-offline_asked_in": "2"})  # it is answered in line 2
    assert "Line 2 asks for this goal" in unescape(staff_client.post(url, form).content.decode())
    form = edit_form(party, **{"goals-0-offline_asked_in": "2", "goals-0-offline_answered_in": "3"})
    assert staff_client.post(url, form).status_code == 302
    goal = party.goals.get(position=1)
    assert (goal.offline_asked_in, goal.offline_answered_in) == ([2], 3)


def test_a_goal_is_not_answered_where_it_is_asked_for_once_the_script_moved(staff_client, party):
    """Checked against the answer line as it was: a line added at the top, and the asking
    line set to where the answer moved, saved both in one line; and the asking line set to
    where the answer was, which it no longer is, was refused (the attacker's replay)."""
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    party.goals.filter(position=1).update(offline_asked_in=[], offline_answered_in=3)
    script = "\n".join(["Hallo, schön, dass du da bist!", *party.offline_lines])
    form = edit_form(party, **{"goals-0-offline_asked_in": "4"})  # where line 3 goes
    form["offline_lines"] = script
    response = staff_client.post(url, form)
    assert "Line 4 asks for this goal: it cannot answer it too." in unescape(
        response.content.decode()
    )
    goal = party.goals.get(position=1)
    assert (goal.offline_asked_in, goal.offline_answered_in) == ([], 3)
    # The other way: the answer written onto the line an asking line moves to.
    party.goals.filter(position=1).update(offline_asked_in=[2], offline_answered_in=None)
    form = edit_form(party, **{"goals-0-offline_answered_in": "3"})  # where line 2 goes
    form["offline_lines"] = script
    assert "Line 3 asks for this goal" in unescape(staff_client.post(url, form).content.decode())
    # A line named twice is saved once (the attacker's replay); an empty item is none.
    form = edit_form(party, **{"goals-1-offline_asked_in": "3,1,3,"})
    assert staff_client.post(url, form).status_code == 302
    assert party.goals.get(position=2).offline_asked_in == [3, 1]
    party.refresh_from_db()
    # The asking line set where the answer was: the answer moves on, and that is no clash.
    party.goals.filter(position=1).update(offline_asked_in=[], offline_answered_in=3)
    form = edit_form(party, **{"goals-0-offline_asked_in": "3"})
    form["offline_lines"] = script
    assert staff_client.post(url, form).status_code == 302
    goal = party.goals.get(position=1)
    assert (goal.offline_asked_in, goal.offline_answered_in) == ([3], 4)


def test_the_line_answering_a_goal_follows_the_script_as_staff_edit_it(staff_client, party):
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    lines = list(party.offline_lines)
    answered = dict(party.goals.values_list("position", "offline_answered_in"))
    assert answered == {1: None, 2: 2, 3: 4, 4: 7, 5: None}
    edited = ["Hallo, schön, dass du da bist!", *lines]
    edited[4] = "Ach so! Und wie lange wohnst du schon hier?"  # line 4 as shipped, reworded
    form = edit_form(party)
    form["offline_lines"] = "\n".join(edited)
    response = staff_client.post(url, form, follow=True)
    # Reworded where it stood, it still answers (it was dropped: a newcomer's walk).
    assert dict(party.goals.values_list("position", "offline_answered_in")) == {
        1: None,
        2: 3,
        3: 5,
        4: 8,
        5: None,
    }
    assert "Line 5 of the offline script, reworded, still answers the goal" in unescape(
        response.content.decode()
    )
    party.refresh_from_db()
    form = edit_form(party)
    form["offline_lines"] = "\n".join(edited[:4] + edited[5:])  # and removed
    response = staff_client.post(url, form, follow=True)
    assert party.goals.get(position=3).offline_answered_in is None
    assert "was answered in line 5 of the offline script, which it no longer has" in unescape(
        response.content.decode()
    )


def test_an_answer_line_follows_the_script_when_its_asking_lines_are_rewritten_in_the_same_save(
    staff_client, party
):
    """A goal whose asking lines staff rewrote was not followed at all: its answer pointed
    past a script shortened in the same save, or at the line that became the closing one
    (the attacker's recheck)."""
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    lines = list(party.offline_lines)
    form = edit_form(party, **{"goals-3-offline_asked_in": "2"})
    form["offline_lines"] = "\n".join([*lines[:5], lines[-1]])
    response = staff_client.post(url, form, follow=True)
    goal = party.goals.get(position=4)
    assert (goal.offline_asked_in, goal.offline_answered_in) == ([2], None)
    assert "was answered in line 7 of the offline script, which it no longer has" in (
        response.content.decode().replace("&#x27;", "'")
    )
    party.refresh_from_db()
    party.goals.filter(position=2).update(offline_answered_in=5, offline_goes_on_after_answer=True)
    form = edit_form(party)
    form["offline_lines"] = "\n".join(party.offline_lines[:-1])  # line 5 closes the scene now
    response = staff_client.post(url, form, follow=True)
    goal = party.goals.get(position=2)
    # Its "go on after it" goes too: it applied to the next line staff named (a newcomer's
    # recheck).
    assert (goal.offline_answered_in, goal.offline_goes_on_after_answer) == (None, False)
    assert "was answered in line 5 of the offline script" in (
        response.content.decode().replace("&#x27;", "'")
    )


def test_a_script_that_goes_on_after_an_answer_near_its_end_warns_it_can_close_early(
    staff_client, party
):
    """Reached at once, the goal skips the lines before its answer."""
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    form = edit_form(party, **{"goals-3-offline_answered_in": "10"})
    form["goals-3-offline_goes_on_after_answer"] = "on"
    response = staff_client.post(url, form, follow=True)
    said = [str(message) for message in response.context["messages"]]
    assert (
        "Without an API key, “Party” can close after 3 learner messages (lines 1, 3, 6 are "
        "passed over once their goals are reached; the script goes on after line 10 when a "
        "goal answered there is reached): fewer than its 5 goals"
    ) in " ".join(said)


@pytest.mark.parametrize(
    "emoji",
    [
        *("not an emoji at", "Bäckerei", "🥨 !", "12", "$$$", "+", "1234\u20e3", "\u2211"),
        # Drawn as text without U+FE0F, or a skin tone alone (the second recheck).
        *("\u2551", "\u2122", "\u2139", "\u25b6", "\U0001f3fb\U0001f37a"),
        # A flag naming no country or region: two boxed letters (the last note's left item).
        *("\U0001f1e6\U0001f1e6", "\U0001f1e9\U0001f1ea\U0001f1fd\U0001f1fd"),
        "\U0001f3f4\U000e007a\U000e007a\U000e007f",  # a made-up subdivision (the recheck)
    ],
)
def test_an_emoji_that_is_text_is_refused(staff_client, party, emoji):
    """ "not an emoji at all…" was saved (cut to the field's length), and the picker showed it
    as the scene's emoji (a newcomer's walk)."""
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    response = staff_client.post(url, edit_form(party, emoji=emoji))
    assert response.status_code == 200 and "An emoji, not text" in response.content.decode()
    party.refresh_from_db()
    assert party.emoji == "🎉"


@pytest.mark.parametrize(
    "emoji",
    ["🏛️", "🇩🇪", "🇪🇺", "🇩🇪🇦🇹", "1️⃣", "👩🏽‍🍳", "\u2139\ufe0f", "\u203c\ufe0f", "\u3030\ufe0f"],
)
def test_emoji_of_several_characters_are_emoji(staff_client, party, emoji):
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    assert staff_client.post(url, edit_form(party, emoji=emoji)).status_code == 302
    party.refresh_from_db()
    assert party.emoji == emoji


def _asked_in(scene) -> dict[int, list[int]]:
    return dict(scene.goals.values_list("position", "offline_asked_in"))


def test_the_lines_asking_for_goals_follow_the_script_as_staff_edit_it(staff_client, party):
    """A line added at the top of the script left the goals naming the old numbers: the line
    asking for one was asked again, and another passed over (the attacker's recheck). A line
    reworded where it stood still asks (a newcomer's walk: it asked for nothing), a line
    removed asks for nothing, and staff are told either; lines staff write in the same save
    name the new script's."""
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    lines = list(party.offline_lines)
    assert _asked_in(party) == {1: [], 2: [1], 3: [3], 4: [6], 5: []}
    edited = ["Hallo, schön, dass du da bist!", *lines]
    edited[3 + 1 - 1] = "Und woher kommst du?"  # line 3 as shipped, now line 4, reworded
    form = edit_form(party, **{"goals-3-offline_asked_in": "7"})  # staff write goal 4's anew
    form["offline_lines"] = "\n".join(edited)
    response = staff_client.post(url, form, follow=True)
    assert response.status_code == 200
    assert _asked_in(party) == {1: [], 2: [2], 3: [4], 4: [7], 5: []}
    page = unescape(response.content.decode())
    assert "Line 4 of the offline script, reworded, still asks for the goal" in page
    # Staff are told the numbers they see moved (a newcomer's recheck: 7 typed, 8 saved).
    goal_2, goal_3 = party.goals.get(position=2).text, party.goals.get(position=3).text
    assert "The offline script's lines moved, and the goals' line numbers with them: " in page
    assert f"“{goal_2}” is asked for in 2 (was 1) and answered in 3 (was 2)" in page
    assert f"“{goal_3}” is asked for in 4 (was 3) and answered in 5 (was 4)" in page
    party.refresh_from_db()
    form = edit_form(party)
    form["offline_lines"] = "\n".join(edited[:3] + edited[4:])  # line 4 removed
    page = unescape(staff_client.post(url, form, follow=True).content.decode())
    assert _asked_in(party) == {1: [], 2: [2], 3: [], 4: [6], 5: []}
    assert "asked for in line 4 of the offline script, which it no longer has" in page


def test_asking_lines_follow_the_right_copy_of_a_line(staff_client, party):
    """A line the script has twice sent both goals to its first copy (the attacker's second
    recheck)."""
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    party.offline_lines = ["Und was noch?", "Gut.", "Und was noch?", "Fünf.", "Tschüss."]
    party.save()
    party.goals.filter(position=2).update(offline_asked_in=[1])
    party.goals.filter(position=3).update(offline_asked_in=[3])
    party.goals.filter(position=4).update(offline_asked_in=[])
    form = edit_form(party)
    form["offline_lines"] = "\n".join(["Hallo!", *party.offline_lines])
    assert staff_client.post(url, form).status_code == 302
    assert _asked_in(party) == {1: [], 2: [2], 3: [4], 4: [], 5: []}


def test_two_lines_of_one_text_moved_to_one_place_do_not_both_follow_it(staff_client, party):
    """A goal asked for in one copy of a line and answered in another: both copies removed and
    the text written once elsewhere, it was saved asked for and answered there (the
    attacker's recheck). One follows it; the other is lost, with a warning."""
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    party.offline_lines = ["Und was noch?", "Gut.", "Und was noch?", "Fünf.", "Ja.", "Tschüss."]
    party.save()
    party.goals.exclude(position=2).update(offline_asked_in=[], offline_answered_in=None)
    party.goals.filter(position=2).update(offline_asked_in=[1], offline_answered_in=3)
    form = edit_form(party)
    form["offline_lines"] = "\n".join(["Gut.", "Fünf.", "Ja.", "Und was noch?", "Tschüss."])
    page = unescape(staff_client.post(url, form, follow=True).content.decode())
    goal = party.goals.get(position=2)
    assert (goal.offline_asked_in, goal.offline_answered_in) == ([4], None)
    assert "was answered in line 3 of the offline script, which it no longer has" in page


def test_asking_lines_follow_a_script_saved_in_another_tab_meanwhile(
    staff_client, party, monkeypatch
):
    """Tab B, drawn before tab A added a line at the top, saved while A's save held the scene:
    its goals were moved again from the script B was drawn with, to the wrong line (the
    attacker's second recheck). They follow the script as stored when B takes the scene."""
    from scenarios.admin import GoalFormSet

    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    shipped = list(party.offline_lines)
    tab_b = edit_form(party)
    tab_b["offline_lines"] = "\n".join([*shipped[:-1], "Tschüss, bis bald!"])
    taking = GoalFormSet._positions_taken_since_the_page_was_drawn

    def tab_a_commits_first(formset):
        Scenario.objects.filter(pk=party.pk).update(offline_lines=["Hallo!", *shipped])
        party.goals.filter(position=3).update(offline_asked_in=[4])  # A moved it
        return taking(formset)

    monkeypatch.setattr(
        GoalFormSet, "_positions_taken_since_the_page_was_drawn", tab_a_commits_first
    )
    assert staff_client.post(url, tab_b).status_code == 302
    assert _asked_in(party)[3] == [3]  # "Sag mal, woher kommst du eigentlich?" in B's script


def test_removing_goals_below_three_keeps_an_active_scene_as_it_was(staff_client, party):
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    deletions = {f"goals-{index}-DELETE": "on" for index in range(3)}
    response = staff_client.post(url, edit_form(party, **deletions))
    assert "cannot be active yet: it lacks 3 to 5 goals" in response.content.decode()
    assert party.goals.count() == 5


def test_deleting_a_scenario_with_sessions_is_refused_with_the_reason(
    staff_client, alice, marketplace
):
    start_session(alice, marketplace)
    url = reverse("admin:scenarios_scenario_delete", args=[marketplace.pk])
    for response in (
        staff_client.get(url, follow=True),
        staff_client.post(url, {"post": "yes"}, follow=True),
    ):
        body = response.content.decode()
        assert "cannot be deleted" in body and "their history needs the scene" in body
        assert reverse("admin:scenarios_scenario_deactivate", args=[marketplace.pk]) in body
    assert Scenario.objects.filter(pk=marketplace.pk).exists()


def test_bulk_delete_with_a_used_scenario_deletes_nothing(staff_client, alice, marketplace, party):
    start_session(alice, marketplace)
    response = staff_client.post(
        CHANGELIST,
        {
            "action": "delete_unused_scenarios",
            "_selected_action": [marketplace.pk, party.pk],
            "post": "yes",
        },
        follow=True,
    )
    assert "cannot be deleted" in response.content.decode()
    assert Scenario.objects.filter(pk__in=[marketplace.pk, party.pk]).count() == 2


def test_an_unused_scenario_can_be_deleted(staff_client, party):
    response = staff_client.post(
        reverse("admin:scenarios_scenario_delete", args=[party.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Scenario.objects.filter(pk=party.pk).exists()


def test_deactivating_hides_the_scenario_and_is_logged(staff_client, staff, alice, marketplace):
    start_session(alice, marketplace)
    url = reverse("admin:scenarios_scenario_deactivate", args=[marketplace.pk])
    assert "Yes, deactivate it" in staff_client.get(url).content.decode()
    response = staff_client.post(url, follow=True)  # the confirmation is shown, and read
    assert response.redirect_chain[0][1] == 302
    marketplace.refresh_from_db()
    assert not marketplace.is_active
    assert LogEntry.objects.filter(user=staff, object_id=str(marketplace.pk)).exists()
    assert "Marketplace" not in staff_client.get("/").content.decode()


def test_order_is_editable_in_the_list(staff_client, marketplace, party):
    scenarios = list(Scenario.objects.order_by("sort_order", "id"))
    data = {
        "form-TOTAL_FORMS": str(len(scenarios)),
        "form-INITIAL_FORMS": str(len(scenarios)),
        "_save": "Save",
    }
    for i, scenario in enumerate(scenarios):
        data[f"form-{i}-id"] = str(scenario.pk)
        data[f"form-{i}-sort_order"] = str(20 - i)
    assert staff_client.post(CHANGELIST, data).status_code == 302
    assert list(Scenario.objects.order_by("sort_order").values_list("pk", flat=True)) == [
        s.pk for s in reversed(scenarios)
    ]


def test_activating_checks_that_the_scene_is_complete(staff_client, party):
    party.is_active = False
    party.save()
    draft = Scenario.objects.create(
        code="draft", title="Draft", emoji="📝", is_active=False, initial_message_main="Hallo"
    )
    response = staff_client.post(
        CHANGELIST,
        {"action": "activate_scenarios", "_selected_action": [draft.pk, party.pk]},
        follow=True,
    )
    body = response.content.decode()
    assert "Draft” cannot be active yet: it lacks the character" in body
    assert "Activated “Party”." in body
    draft.refresh_from_db()
    party.refresh_from_db()
    assert (draft.is_active, party.is_active) == (False, True)


def test_changelist_queries_do_not_grow_with_rows(staff_client, django_assert_max_num_queries):
    for i in range(30):
        Scenario.objects.create(
            code=f"extra-{i}",
            title=f"Extra {i}",
            emoji="🧪",
            initial_message_main="Hallo",
            initial_message_helper="Hi",
        )
    with django_assert_max_num_queries(13):
        assert staff_client.get(CHANGELIST).status_code == 200


def test_the_change_page_previews_the_assembled_system_prompt(staff_client, marketplace):
    url = reverse("admin:scenarios_scenario_change", args=[marketplace.pk])
    body = staff_client.get(url).content.decode()
    preview = body[body.index('<pre class="prompt-preview">') :]
    assert "You are **Frau Hoffmann**" in preview  # the scene's brief
    assert "reach_goal" in preview  # the rules every character follows
    assert "1. Order a kilo of tomatoes" in preview  # the goals, numbered
    assert "The learner&#x27;s level: A1" in preview or "level: A1" in preview


def test_the_script_and_the_prompt_have_their_own_labels(staff_client, marketplace):
    """The script was labelled "System prompt" (two labels on one field, the prompt's none: a
    newcomer's walk)."""
    url = reverse("admin:scenarios_scenario_change", args=[marketplace.pk])
    body = staff_client.get(url).content.decode()
    labels = dict(
        re.findall(r'field-(\w+)">(?:(?!form-row).)*?<label>([^<]*):</label>', body, re.DOTALL)
    )
    assert labels["numbered_script"] == "The script by number"
    assert labels["prompt_preview"] == "System prompt (at A1, as saved)"


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"vocabulary": "die Tüte = bag\ndas Brötchen"}, "Line 2: write a word as “German"),
        ({"vocabulary": "= bag"}, "Line 1: write a word as “German = meaning”"),
        ({"initial_message_main": "Hallo! " * 1500}, "at most 2000 characters"),
        ({"offline_lines": "Hallo!\n" + "Hallo! " * 400}, "Line 2 has 2,799 characters"),
        ({"offline_tips": "\n \n"}, "lacks offline helper tips"),
    ],
)
def test_what_would_break_a_scene_at_play_time_is_refused(staff_client, party, changes, error):
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    response = staff_client.post(url, edit_form(party, **changes))
    assert response.status_code == 200 and error in response.content.decode()
    party.refresh_from_db()
    assert isinstance(party.offline_lines, list) and party.offline_lines


def test_an_emptied_script_is_a_draft_not_a_crash(staff_client, party):
    party.is_active = False
    party.save()
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    response = staff_client.post(url, edit_form(party, offline_lines="", offline_tips=" \n"))
    assert response.status_code == 302
    party.refresh_from_db()
    assert party.offline_lines == [] and party.offline_tips == []


def test_a_scene_has_at_most_five_goals(staff_client, party):
    party.is_active = False
    party.save()
    data = edit_form(party)
    data["goals-TOTAL_FORMS"] = "7"
    for index in (5, 6):
        data[f"goals-{index}-position"] = str(index + 1)
        data[f"goals-{index}-text"] = f"Extra {index}"
        data[f"goals-{index}-offline_pattern"] = "extra"
    response = staff_client.post(reverse("admin:scenarios_scenario_change", args=[party.pk]), data)
    assert "at most 5 goals" in response.content.decode()
    assert party.goals.count() == 5


def test_staff_edit_a_scenes_lists_one_a_line(staff_client, party):
    """They were JSON, with escaped quotes, and a mistake said only "Enter a valid JSON" (a
    newcomer's walk)."""
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    body = staff_client.get(url).content.decode()
    word = party.vocabulary[0]
    assert f"{word['german']} = {word['gloss']}" in body
    assert party.offline_lines[1].replace("'", "&#x27;") in body
    assert "&quot;german&quot;" not in body

    changes = {
        "vocabulary": "die Tüte = bag\n\n  das „Brötchen“ = roll = a small loaf  \n",
        "offline_lines": "Hallo!\r\nTschüss!",
        "offline_tips": "Say „Hallo“.",
    }
    assert staff_client.post(url, edit_form(party, **changes)).status_code == 302
    party.refresh_from_db()
    assert party.vocabulary == [
        {"german": "die Tüte", "gloss": "bag"},
        {"german": "das „Brötchen“", "gloss": "roll = a small loaf"},
    ]
    assert party.offline_lines == ["Hallo!", "Tschüss!"]
    assert party.offline_tips == ["Say „Hallo“."]


def test_each_wrong_line_says_so_and_an_active_scene_lacks_nothing_it_has(staff_client, party):
    """A line too long: the page said the active scene "lacks the offline script", and the
    field named no line; of two wrong words, only the first was named (the recheck)."""
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    changes = {
        "offline_lines": "Hallo!\n" + "x" * 2001,
        "vocabulary": "das Brot\ndie Tüte = bag\nder Kuchen",
    }
    body = staff_client.post(url, edit_form(party, **changes)).content.decode()
    assert "Line 2 has 2,001 characters: at most 2,000 a line." in body
    assert "Line 1: write a word as" in body and "Line 3: write a word as" in body
    assert "lacks" not in body


def test_a_new_scene_with_a_wrong_vocabulary_line_is_not_said_to_lack_one(staff_client, party):
    """The add page said the scene "lacks a vocabulary list" above the lines it named as
    wrong (a newcomer's walk): what it could not read is not lacking."""
    form = edit_form(party, code="post_office", title="Post office", character_name="")
    form.update({"vocabulary": "das Paket = parcel\ndie Briefmarke stamp", "is_active": "on"})
    for key in [key for key in form if key.startswith("goals-")]:
        form.pop(key)
    form.update({"goals-TOTAL_FORMS": "0", "goals-INITIAL_FORMS": "0"})
    body = staff_client.post(reverse("admin:scenarios_scenario_add"), form).content.decode()
    assert "Line 2: write a word as" in body
    assert "it lacks the character&#x27;s name and 3 to 5 goals." in body
    assert not Scenario.objects.filter(code="post_office").exists()


def test_a_new_scene_starts_as_a_draft(staff_client):
    page = staff_client.get(reverse("admin:scenarios_scenario_add")).content.decode()
    box = next(tag for tag in page.split("<input")[1:] if 'name="is_active"' in tag)
    assert "checked" not in box.split(">")[0]


def test_goals_left_without_a_position_come_after_the_others_in_their_order(staff_client, party):
    """A new scene's goals had no position, and the save was refused for each empty box only
    after every other field was right (a newcomer's walk)."""
    form = edit_form(party, code="bike_repair", title="Bike repair")
    for key in [key for key in form if key.startswith("goals-")]:
        form.pop(key)
    goals = [("", "Say what is broken"), ("1", "Greet the mechanic"), ("", "Ask the price")]
    form.update({"goals-TOTAL_FORMS": "3", "goals-INITIAL_FORMS": "0"})
    for index, (position, text) in enumerate(goals):
        form.update(
            {
                f"goals-{index}-position": position,
                f"goals-{index}-text": text,
                f"goals-{index}-offline_pattern": "kaputt|hallo|kostet",
            }
        )
    response = staff_client.post(reverse("admin:scenarios_scenario_add"), form)
    assert response.status_code == 302, response.content.decode()
    scene = Scenario.objects.get(code="bike_repair")
    assert [(g.position, g.text) for g in scene.goals.all()] == [
        (1, "Greet the mechanic"),
        (2, "Say what is broken"),
        (3, "Ask the price"),
    ]


@pytest.mark.parametrize(
    "changes",
    [
        {"character_name": "Frau \u202eKrause"},
        {"emoji": "\u202e🎉"},
        {"offline_lines": "Hallo!\nTschüss \u2066!"},
        {"goals-0-text": "Greet \u202ethe host"},
    ],
)
def test_text_that_would_turn_the_page_around_is_refused(staff_client, party, changes):
    """A direction override in a scene's emoji or character's name reversed the page's own
    words beside it ("A1 · with …" read "1A … htiw": the attacker's replay)."""
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    body = staff_client.post(url, edit_form(party, **changes)).content.decode()
    assert "direction overrides, which garble the page" in body
    party.refresh_from_db()
    assert "\u202e" not in party.character_name + party.emoji


def test_an_opening_line_longer_than_the_admin_allows_cannot_be_stored(staff_client, party):
    """Written outside the admin, an opening line of 10,000 characters made every Start of
    the scene fail with a 500 (the attacker's replay): the database refuses it."""
    from django.db import IntegrityError, transaction

    from lib.rls import acting_as_staff

    with pytest.raises(IntegrityError), transaction.atomic(), acting_as_staff():
        Scenario.objects.filter(pk=party.pk).update(initial_message_main="Hallo! " * 1500)
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    form = edit_form(party, initial_message_main="a" * 2001)
    body = staff_client.post(url, form).content.decode()
    assert body.count("at most 2000 characters") == 1  # the field's error, not twice


def _goals_of(scene) -> list[tuple[int, str]]:
    return [(goal.position, goal.text) for goal in scene.goals.all()]


def test_two_goals_can_swap_places(staff_client, party):
    """Saved one by one, the first met the second at its place: a 500 (the attacker's
    recheck)."""
    first, second = party.goals.all()[:2]
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    form = edit_form(party, **{"goals-0-position": "2", "goals-1-position": "1"})
    assert staff_client.post(url, form).status_code == 302
    assert _goals_of(party)[:2] == [(1, second.text), (2, first.text)]


def test_a_goal_numbered_into_the_place_of_one_deleted_is_saved(staff_client, party):
    """Numbered after the others, it took the position of a goal deleted in the same save,
    which the admin deletes after saving the rest: a 500 (the attacker's recheck)."""
    goals = list(party.goals.all())
    last = len(goals) - 1
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    form = edit_form(party, **{"goals-0-position": "", f"goals-{last}-DELETE": "on"})
    assert staff_client.post(url, form).status_code == 302
    assert [text for _, text in _goals_of(party)] == [g.text for g in goals[1:last]] + [
        goals[0].text
    ]


def test_a_goal_that_cannot_be_numbered_after_the_others_says_so(staff_client, party):
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    form = edit_form(party, **{"goals-0-position": "32767", "goals-1-position": ""})
    response = staff_client.post(url, form)
    assert response.status_code == 200
    assert "Give each goal a position" in response.content.decode()


def test_two_goals_in_one_place_are_still_refused_by_the_database(party):
    from django.db import IntegrityError, connection, transaction

    from lib.rls import acting_as_staff

    first, second = party.goals.all()[:2]
    with pytest.raises(IntegrityError), transaction.atomic(), acting_as_staff():
        type(second).objects.filter(pk=second.pk).update(position=first.position)
        with connection.cursor() as cursor:  # as at commit
            cursor.execute("SET CONSTRAINTS scenario_goals_position_unique IMMEDIATE")


def test_goals_added_in_another_tab_are_not_saved_over(staff_client, party):
    """A page drawn before another tab added a goal numbered its new goal into that goal's
    place, or took it as typed: a 500 at commit (the attacker's second recheck)."""
    from scenarios.models import Goal

    Goal.objects.filter(scenario=party, position__gt=3).delete()  # room for two more
    form = edit_form(party)  # as the page was drawn
    count = party.goals.count()
    Goal.objects.create(
        scenario=party, position=count + 1, text="Added elsewhere", offline_pattern="x"
    )
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    new_goal = {
        "goals-TOTAL_FORMS": str(count + 1),
        f"goals-{count}-text": "Added here",
        f"goals-{count}-offline_pattern": "y",
    }
    taken = staff_client.post(url, {**form, **new_goal, f"goals-{count}-position": str(count + 1)})
    assert f"Another goal took position {count + 1} since this page was opened" in (
        taken.content.decode()
    )
    assert staff_client.post(url, {**form, **new_goal}).status_code == 302
    assert _goals_of(party)[-2:] == [(count + 1, "Added elsewhere"), (count + 2, "Added here")]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": "\u200b"}, "title"),
        ({"emoji": "\u3164"}, "emoji"),
        ({"character_name": "\u2800\u200d"}, "character_name"),
        ({"description": "\u3000\ufffc"}, "description"),
        ({"goals-0-text": "\u200b\u200b"}, "goals"),
    ],
)
def test_staff_text_that_shows_nothing_is_refused(staff_client, party, changes, field):
    """A title of a zero-width space was saved: the picker drew the scene without a name (the
    last note)."""
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    response = staff_client.post(url, edit_form(party, **changes))
    assert response.status_code == 200
    assert (
        "Shows nothing on screen (only spaces or invisible characters)" in response.content.decode()
    )
    before = Scenario.objects.get(pk=party.pk)
    assert (before.title, before.emoji, before.character_name) == (
        party.title,
        party.emoji,
        party.character_name,
    )
    assert [g.text for g in before.goals.all()] == [g.text for g in party.goals.all()]


def test_a_scene_whose_description_shows_nothing_lacks_one(staff_client, party):
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    body = staff_client.post(url, edit_form(party, description="\u200b\u2060")).content.decode()
    assert "Shows nothing on screen" in body
    party.description, party.character_brief = "\u200b\u2060", "\u3164"
    assert party.missing_for_play() == ["the character's brief", "a description for the picker"]


def test_a_script_line_that_shows_nothing_is_a_blank_line(staff_client, party):
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    changes = {
        "offline_lines": "Hallo!\n\u200b\nTschüss!",
        "vocabulary": "das Brot = bread\n\u3164",
    }
    assert staff_client.post(url, edit_form(party, **changes)).status_code == 302
    party.refresh_from_db()
    assert party.offline_lines == ["Hallo!", "Tschüss!"]
    assert party.vocabulary == [{"german": "das Brot", "gloss": "bread"}]


def test_the_change_page_numbers_the_script_as_goals_name_its_lines(staff_client, party):
    """Goals name the script's lines by number, and the box numbered none (a newcomer's
    walk)."""
    page = staff_client.get(reverse("admin:scenarios_scenario_change", args=[party.pk]))
    numbered = re.search(r'<ol class="numbered-script">(.*?)</ol>', page.content.decode(), re.S)
    assert numbered is not None
    items = re.findall(r"<li>(.*?)</li>", numbered.group(1))
    assert [unescape(item) for item in items] == party.offline_lines


def test_a_scene_saved_as_a_draft_says_learners_do_not_see_it(staff_client, party):
    """ "Added successfully" and no more: the new scene was hidden from learners, and nothing
    said so (a newcomer's walk)."""
    form = edit_form(party, code="post_office", title="Post office")
    form.pop("is_active", None)
    for key in [key for key in form if key.startswith("goals-")]:
        form.pop(key)
    form.update({"goals-TOTAL_FORMS": "0", "goals-INITIAL_FORMS": "0"})
    added = staff_client.post(reverse("admin:scenarios_scenario_add"), form, follow=True)
    said = [str(message) for message in added.context["messages"]]
    assert (
        "“Post office” is saved as a draft: learners do not see it until “Is active” is ticked,"
        " once it has 3 to 5 goals." in said
    )
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    saved = staff_client.post(url, edit_form(party, description="Neu"), follow=True)
    assert not any("learners do not see" in str(message) for message in saved.context["messages"])
    # A scene learners have played, made inactive, is no draft (the recheck).
    hidden = edit_form(party)
    hidden.pop("is_active")
    saved = staff_client.post(url, hidden, follow=True)
    said = [str(message) for message in saved.context["messages"]]
    assert "“Party” is inactive: learners do not see it until “Is active” is ticked." in said


def test_the_refusal_to_be_active_is_said_once_at_the_top(staff_client, party):
    """It was printed at the top and again beside the goals, also when what the scene lacked
    was its brief; and "Please correct the error below" pointed at nothing below."""
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    deletions = {f"goals-{index}-DELETE": "on" for index in range(3)}
    body = staff_client.post(url, edit_form(party, **deletions)).content.decode()
    assert body.count("cannot be active yet") == 1
    assert '<ul class="messagelist">' in body.split("cannot be active yet")[0]
    # The goals say they are what it lacks (they bore no mark: a newcomer's recheck).
    goals = body.split('id="goals-group"')[1]
    assert body.count("3 to 5 goals are needed before the scene can be active.") == 1
    assert "3 to 5 goals are needed before the scene can be active." in goals
    assert "Please correct the error below." in body
    assert Scenario.objects.get(pk=party.pk).goals.count() == 5


def test_the_fields_a_scene_lacks_to_be_active_are_marked(staff_client, party):
    """The top said "it lacks offline helper tips" over a box with no mark (a newcomer's
    walk): each field it lacks says it is needed, and nothing else is marked."""
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    form = edit_form(party, offline_tips="", character_brief="")
    body = staff_client.post(url, form).content.decode()
    assert body.count("cannot be active yet") == 1
    assert "it lacks the character&#x27;s brief and offline helper tips." in body
    assert "Please correct the errors below." in body
    marked = re.findall(r'<div class="form-row[^"]*errors[^"]*field-(\w+)', body)
    assert sorted(marked) == ["character_brief", "offline_tips"]
    assert body.count("Needed before the scene can be active.") == 2
    assert Scenario.objects.get(pk=party.pk).offline_tips  # nothing saved


def test_a_script_that_can_close_before_every_goal_has_a_turn_is_warned_of(staff_client, party):
    """A newcomer's 4-line script passed over its line 3 for a goal reached early and closed
    at once, leaving "Say goodbye" no turn; the admin had said nothing."""
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    script = ["Hallo!", "Was trinkst du?", "Woher kommst du?", "Tschüss!"]
    Scenario.objects.filter(pk=party.pk).update(offline_lines=script)
    for position, asked_in in ((1, []), (2, [2]), (3, [3]), (4, []), (5, [])):
        party.goals.filter(position=position).update(offline_asked_in=asked_in)
    party.refresh_from_db()
    response = staff_client.post(url, edit_form(party), follow=True)
    said = [str(message) for message in response.context["messages"] if "API key" in str(message)]
    assert said == [
        "Without an API key, “Party” can close after 2 learner messages (lines 2, 3 are passed "
        "over once their goals are reached): fewer than its 5 goals, so a learner can be left "
        "with a goal and no turn to reach it. Add lines that ask for no goal before the closing "
        "one."
    ]
    assert "was changed successfully" in response.content.decode()  # saved all the same


def test_a_goal_leaving_out_a_word_with_an_umlaut_only_as_written_is_warned_of(staff_client, party):
    """A message is tried as typed too, so "Ich bin Tieraerztin" got past (?!…ärztin) and
    reached the name goal; staff were told only in the pattern's help text (the last note's
    item). Saved all the same; a pattern written both ways is not warned of."""
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    pattern = r"ich bin (?!\w*ärztin|koch)\w+"
    response = staff_client.post(
        url, edit_form(party, **{"goals-0-offline_pattern": pattern}), follow=True
    )
    said = [
        str(message) for message in response.context["messages"] if "leaves out" in str(message)
    ]
    assert said == [
        "The goal “Tell Lena your name” leaves out “(?!\\w*ärztin|koch)” only as written with "
        "“ä”, “ö”, “ü” or “ß”: without an API key a learner who types “ae”, “oe”, “ue” or “ss” "
        "gets past it. Write it both ways, as “(?!\\w*(?:ä|ae)rztin|koch)”."
    ]
    # Staff's own part, rewritten: a general example pasted over it dropped its "\w*" (a
    # newcomer's recheck); one in a character class has no such rewriting.
    assert both_ways(r"(?!\w*[äa]rztin)") == ""
    assert both_ways(r"(?!stra\ße|Ärztin)") == r"(?!stra\ße|(?:Ä|ae)rztin)"
    assert party.goals.get(position=1).offline_pattern == pattern
    written_both_ways = r"ich bin (?!\w*(?:ä|ae)rztin|koch)\w+"
    party.refresh_from_db()
    response = staff_client.post(
        url, edit_form(party, **{"goals-0-offline_pattern": written_both_ways}), follow=True
    )
    assert not [m for m in response.context["messages"] if "leaves out" in str(m)]


def test_no_shipped_goal_leaves_out_a_word_one_way(db):
    """The Bürgeramt's register goal did: "Bekomme ich eine Bestaetigung?" reached it."""
    for goal in Goal.objects.all():
        assert left_out_one_way(goal.offline_pattern) == [], (goal.scenario.code, goal.text)


def test_the_shipped_scripts_give_every_goal_a_turn(db):
    for scenario in Scenario.objects.prefetch_related("goals"):
        assert scenario.offline_messages_at_least() >= scenario.goals.count(), scenario.code


def test_activating_from_the_list_warns_of_a_script_too_short_for_the_goals(staff_client, party):
    """The change form warned, the list's Activate said only "Activated 1 scenario(s).", and a
    learner's offline scene closed before its goodbye (a newcomer's walk)."""
    Scenario.objects.filter(pk=party.pk).update(
        is_active=False, offline_lines=["Hallo!", "Was trinkst du?", "Woher?", "Tschüss!"]
    )
    party.goals.update(offline_asked_in=[])
    response = staff_client.post(
        CHANGELIST,
        {"action": "activate_scenarios", "_selected_action": [party.pk]},
        follow=True,
    )
    said = [str(message) for message in response.context["messages"]]
    assert said == [
        "Without an API key, “Party” can close after 4 learner messages: fewer than its 5 goals,"
        " so a learner can be left with a goal and no turn to reach it. Add lines that ask for"
        " no goal before the closing one.",
        "Activated “Party”.",
    ]


def test_a_new_scene_comes_after_the_others_in_the_picker(staff_client):
    """Its order was 0, above all eleven shipped scenes (a newcomer's walk)."""
    response = staff_client.get(reverse("admin:scenarios_scenario_add"))
    last = max(Scenario.objects.values_list("sort_order", flat=True))
    assert response.context["adminform"].form.initial["sort_order"] == last + 10


def test_a_scene_without_a_suggested_level_cannot_be_active(staff_client, party):
    """The picker showed it with no level and no word on it (a newcomer's walk)."""
    url = reverse("admin:scenarios_scenario_change", args=[party.pk])
    form = edit_form(party)
    del form["suggested_levels"]
    body = unescape(staff_client.post(url, form).content.decode())
    assert "“🎉 Party” cannot be active yet: it lacks a suggested level." in body
    assert Scenario.objects.get(pk=party.pk).suggested_levels == party.suggested_levels


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_activating_waits_for_a_save_that_empties_the_brief(staff_client, party):
    """The action checked a row it read unlocked, and saved "active" after a change form had
    emptied the brief: the scene went live without it (the attacker's recheck)."""
    import threading

    from tests.conftest import raw_connection, until_a_lock_is_awaited

    Scenario.objects.filter(pk=party.pk).update(is_active=False)
    with raw_connection() as editor, raw_connection() as watcher:  # as the owner
        watcher.autocommit = True
        editor.execute("UPDATE scenarios SET character_brief = '' WHERE id = %s", [party.pk])
        outcome = []

        def activate():
            from django.db import connection

            try:
                outcome.append(
                    staff_client.post(
                        CHANGELIST,
                        {"action": "activate_scenarios", "_selected_action": [party.pk]},
                        follow=True,
                    )
                )
            finally:
                connection.close()

        action = threading.Thread(target=activate)
        action.start()
        until_a_lock_is_awaited(watcher)  # the other request waits on the row
        editor.commit()
        action.join(15)
    said = [str(message) for message in outcome[0].context["messages"]]
    assert said == [
        "“🎉 Party” cannot be active yet: it lacks the character's brief. Fill these in, or "
        "leave it inactive until it is ready."
    ]
    assert not Scenario.objects.get(pk=party.pk).is_active


def test_the_list_offers_its_actions_by_their_names(staff_client):
    page = staff_client.get(CHANGELIST).content.decode()
    for name in ("Activate selected scenarios", "Deactivate selected scenarios"):
        assert f">{name}</option>" in page  # one lost its decorator (the attacker's recheck)


def test_an_action_on_scenes_so_already_says_so(staff_client, party, marketplace):
    """Activate said nothing of an active scene, Deactivate "Deactivated 0 scenes." of an
    inactive one (a newcomer's recheck)."""

    def said(action: str, *scenes) -> list[str]:
        chosen = {"action": action, "_selected_action": [scene.pk for scene in scenes]}
        response = staff_client.post(CHANGELIST, chosen, follow=True)
        return [str(message) for message in response.context["messages"]]

    assert said("activate_scenarios", party) == ["“Party” was active already."]
    assert said("deactivate_scenarios", party) == ["Deactivated “Party”."]
    assert said("deactivate_scenarios", party, marketplace) == [
        "Deactivated “Marketplace”.",
        "“Party” was inactive already.",
    ]
    assert said("deactivate_scenarios", party, marketplace) == ["2 scenes were inactive already."]
    assert said("activate_scenarios", party) == ["Activated “Party”."]


def test_what_a_scene_lacks_is_listed_as_a_sentence_and_named_without_a_missing_emoji():
    """ "“ Test scene” cannot be active yet: it lacks …, the offline script, offline helper
    tips" (a newcomer's recheck)."""
    from lib.staff_admin import listed as _listed

    assert [_listed(["a"]), _listed(["a", "b"]), _listed(["a", "b", "c"])] == [
        "a",
        "a and b",
        "a, b and c",
    ]
    assert str(Scenario(title="Test scene", emoji="")) == "Test scene"
