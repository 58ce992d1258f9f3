import copy
import json
import re

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.actions import delete_selected
from django.contrib.postgres.forms import SimpleArrayField
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Max
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from accounts.models import GermanLevel
from lib.staff_admin import StaffModelAdmin, StaffTabularInline, listed
from lib.text import shows_something
from scenarios.models import (
    MAX_GOALS,
    MAX_LINE,
    MIN_GOALS,
    Goal,
    Scenario,
    Session,
    both_ways,
    left_out_one_way,
)
from scenarios.prompts import character_prompt


def _cannot_be_active(scenario: Scenario, missing: list[str]) -> str:
    return (
        f"“{scenario}” cannot be active yet: it lacks {listed(missing)}. Fill "
        "these in, or leave it inactive until it is ready."
    )


CANNOT_BE_ACTIVE = "cannot_be_active"
NEEDED_TO_BE_ACTIVE = "Needed before the scene can be active."
GOALS_NEEDED_TO_BE_ACTIVE = (
    f"{MIN_GOALS} to {MAX_GOALS} goals are needed before the scene can be active."
)


def _not_seen_yet(scenario: Scenario, added: bool) -> str:
    """What an inactive scene's save says: that learners do not see it, and what it lacks to
    be made active (ticking the box was refused next, for what it had not said)."""
    said = "is saved as a draft" if added else "is inactive"
    missing = scenario.missing_for_play()
    lacking = f", once it has {listed(missing)}" if missing else ""
    return (
        f"“{scenario.title}” {said}: learners do not see it until “Is active” is ticked{lacking}."
    )


def _script_too_short_for_the_goals(scenario: Scenario) -> str:
    """A warning when the offline script can close the scene with fewer learner messages than
    it has goals: a 4-line script closed straight after a goal reached early, and left the
    learner no turn for "Say goodbye" (a newcomer's walk). Fewer messages would do only for a
    learner who reaches two goals in one."""
    goals = scenario.goals.count()
    at_least = scenario.offline_messages_at_least()
    if not scenario.offline_lines or at_least >= goals:
        return ""
    passed = scenario.offline_lines_passed_over()
    plural = len(passed) > 1
    reasons = []
    if passed:
        reasons.append(
            f"line{'s' * plural} {', '.join(map(str, passed))} {'are' if plural else 'is'} "
            f"passed over once {'their' if plural else 'its'} goal{'s' * plural} "
            f"{'are' if plural else 'is'} reached"
        )
    if jumps := sorted(
        goal.offline_answered_in
        for goal in scenario.goals.all()
        if goal.offline_goes_on_after_answer and goal.offline_answered_in
    ):
        reasons.append(
            f"the script goes on after line{'s' * (len(jumps) > 1)} "
            f"{', '.join(map(str, jumps))} when a goal answered there is reached"
        )
    because = f" ({'; '.join(reasons)})" if reasons else ""
    return (
        f"Without an API key, “{scenario.title}” can close after {at_least} learner "
        f"message{'s' * (at_least > 1)}{because}: fewer than its {goals} goals, so a learner "
        "can be left with a goal and no turn to reach it. Add lines that ask for no goal "
        "before the closing one."
    )


def _left_out_one_way(goal: Goal, parts: list[str]) -> str:
    """The example is staff's own part written both ways: a general one, pasted over
    "(?!\\w*ärztin)", dropped its "\\w*" (a newcomer's recheck)."""
    parts_listed = listed([f"“{part}”" for part in parts])
    rewritten = [f"“{both_ways(part)}”" for part in parts if both_ways(part)]
    example = f"as {listed(rewritten)}" if rewritten else "e.g. (?:ä|ae) for “ä”"
    return (
        f"The goal “{goal.text}” leaves out {parts_listed} only as written with “ä”, “ö”, “ü” "
        "or “ß”: without an API key a learner who types “ae”, “oe”, “ue” or “ss” gets past "
        f"it. Write {'it' if len(parts) == 1 else 'each'} both ways, {example}."
    )


class OnePerLineField(forms.CharField):
    """A list of texts, one a line, as staff type them: as JSON, with its escaped quotes and
    an error that said only "Enter a valid JSON", they were hard to edit (a newcomer's walk).
    Blank lines are skipped (of invisible characters too); a line too long or an empty list is
    the model's to refuse."""

    widget = forms.Textarea(attrs={"rows": 10, "cols": 100, "wrap": "off"})  # an entry a line

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(self.as_line(item) for item in value)
        return value

    def to_python(self, value) -> list:
        lines = (line.strip() for line in (super().to_python(value) or "").splitlines())
        entries, errors = [], []
        for number, line in enumerate(lines, 1):
            if not shows_something(line):  # blank, if only of invisible characters
                continue
            try:
                entries.append(self.from_line(number, line))
            except ValidationError as error:  # each line that is wrong says so
                errors.extend(error.messages)
        if errors:
            raise ValidationError(errors)
        return entries

    def as_line(self, item) -> str:
        return item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)

    def from_line(self, number: int, line: str):
        if len(line) > MAX_LINE:
            # The model's check said only that the list was wrong, and the top of the page
            # that the scene "lacks" its script (the recheck).
            raise ValidationError(
                f"Line {number} has {len(line):,} characters: at most {MAX_LINE:,} a line."
            )
        return line


class VocabularyField(OnePerLineField):
    """Words as "German = meaning", one a line."""

    def as_line(self, item) -> str:
        if isinstance(item, dict) and {"german", "gloss"} <= item.keys():
            return f"{item['german']} = {item['gloss']}"
        return super().as_line(item)

    def from_line(self, number: int, line: str) -> dict:
        german, equals, gloss = line.partition("=")
        if not (equals and shows_something(german) and shows_something(gloss)):
            raise ValidationError(
                f"Line {number}: write a word as “German = meaning”, "
                "e.g. “das Brötchen = bread roll”."
            )
        return {"german": german.strip(), "gloss": gloss.strip()}


ONE_PER_LINE = {
    "vocabulary": (
        VocabularyField,
        "Words for the scene, one a line, as “German = meaning”: das Brötchen = bread roll. "
        "Without an API key the helper gives these meanings of the words a question names.",
    ),
    "offline_lines": (
        OnePerLineField,
        "Without an API key the character says these German lines in order, one per "
        "learner message, passing over a line that asks for a goal already reached (each "
        "goal's “asked for in offline lines”); the last one closes the scene, early once "
        "every goal is reached or at the 12th line, the role-play's 25th message (the "
        "scene's length: a longer script is cut there, a shorter one ends sooner). One line "
        "each.",
    ),
    "offline_tips": (
        OnePerLineField,
        "Without an API key the helper answers a question that names none of the vocabulary's "
        "words with these English tips, in turn. One line each.",
    ),
}


class GoalFormSet(forms.BaseInlineFormSet):
    def add_fields(self, form, index):
        super().add_fields(form, index)
        # A new scene's goals had no position, and a save that said all else was fine was
        # refused for the three empty boxes (a newcomer's walk).
        form.fields["position"].required = False
        form.fields[
            "position"
        ].help_text = "Goals are listed in this order; empty: after the others."
        # Its default is callable (a new list), so Django compared it with a hidden copy of the
        # value as drawn, not with the goal as stored; an empty list is the same either way.
        form.fields["offline_asked_in"].show_hidden_initial = False

    def clean(self):
        kept = [
            form
            for form in self.forms
            if form.has_changed() or form.instance.pk
            if not self._should_delete_form(form) and form.cleaned_data
        ]
        elsewhere = self._positions_taken_since_the_page_was_drawn()
        _number_the_unnumbered(kept, elsewhere)
        clashing = sorted(
            form.cleaned_data["position"]
            for form in kept
            if form.cleaned_data.get("position") in elsewhere
        )
        if clashing:
            raise ValidationError(
                f"Another goal took position {clashing[0]} since this page was opened (in another"
                " tab?): give this one another, or reload the page to see the scene's goals."
            )
        super().clean()
        scenario = self.instance
        before = getattr(scenario, "_script_as_stored", None)
        _check_the_asking_lines(kept, scenario.offline_lines, before)
        if len(kept) + len(elsewhere) > MAX_GOALS:
            raise ValidationError(f"A scene has at most {MAX_GOALS} goals.")
        if not scenario.is_active:
            return
        # A vocabulary with a wrong line is not "lacking" one (a newcomer's walk): the form
        # says what is wrong with it.
        unread = getattr(scenario, "_unread_fields", frozenset())
        lacking = scenario.lacking_for_play(goal_count=len(kept), unread=unread)
        if lacking:
            refusal = ValidationError(
                _cannot_be_active(scenario, list(lacking)), code=CANNOT_BE_ACTIVE
            )
            refusal.fields = list(lacking.values())  # marked on the page (render_change_form)
            raise refusal

    def _positions_taken_since_the_page_was_drawn(self) -> set[int]:
        """The positions of the scene's goals this form does not show: added in another tab
        since it was drawn. Saving into one of them failed at commit (a 500: the attacker's
        second recheck). The scene's row is locked until the save commits, so two saves of
        its goals come one after the other."""
        if self.instance.pk is None:
            return set()
        # The script as stored now, under the lock: the goals' asking lines name its lines,
        # perhaps moved by a save from another tab since this page was drawn (save_related).
        self.instance._script_as_stored = (
            Scenario.objects.select_for_update()
            .filter(pk=self.instance.pk)
            .values_list("offline_lines", flat=True)
            .first()
        )
        shown = [form.instance.pk for form in self.forms if form.instance.pk]
        others = Goal.objects.filter(scenario_id=self.instance.pk).exclude(pk__in=shown)
        return set(others.values_list("position", flat=True))


POSITION_MOST = 32767  # a PositiveSmallIntegerField's


def _check_the_asking_lines(forms_kept, script, before=None) -> None:
    """A goal's asking lines, as staff change them, are lines the offline script has (the
    script as saved with them: the form's own is on the instance by now). Lines a shortened
    script no longer has are left, and ask for nothing: emptying a draft's script had to
    clear every goal's lines first."""
    count = len(script) if isinstance(script, list) else 0
    has = f"The offline script has {count} line{'' if count == 1 else 's'}"
    for form in forms_kept:
        if "offline_asked_in" in form.changed_data:
            asking = form.cleaned_data.get("offline_asked_in") or ()
            if wrong := [n for n in asking if not 1 <= n <= count]:
                form.add_error("offline_asked_in", f"{has}: there is no line {wrong[0]}.")
            elif len(set(asking)) < len(asking):  # "2,2" was saved so
                form.cleaned_data["offline_asked_in"] = list(dict.fromkeys(asking))
                form.instance.offline_asked_in = form.cleaned_data["offline_asked_in"]
        answer = form.cleaned_data.get("offline_answered_in")
        if form.cleaned_data.get("offline_goes_on_after_answer") and answer is None:
            form.add_error(
                "offline_goes_on_after_answer",
                "Say which line answers the goal: the script goes on after that line.",
            )
        if "offline_answered_in" in form.changed_data and answer is not None:
            # The last line closes the scene: an answer there ended it at once.
            if not 1 <= answer < count:
                form.add_error(
                    "offline_answered_in",
                    f"{has}: the answer is one of lines 1 to {count - 1} (the last closes the "
                    "scene)."
                    if count > 1
                    else f"{has}: it needs one to answer with before its closing line.",
                )
        _check_it_is_not_answered_where_asked(form, before, script)


def _lines_moved(goal: Goal, was: tuple, lost: list[int], lost_answer: int | None) -> str:
    """What became of the goal's line numbers that followed their lines elsewhere: "“Order a
    drink” is asked for in 7 (was 6)"; "" where none moved."""
    asked_before = [number for number in was[0] if number not in lost]
    said = []
    if asked_before and asked_before != goal.offline_asked_in:
        now, then = (", ".join(map(str, lines)) for lines in (goal.offline_asked_in, asked_before))
        said.append(f"asked for in {now} (was {then})")
    if was[1] is not None and lost_answer is None and was[1] != goal.offline_answered_in:
        said.append(f"answered in {goal.offline_answered_in} (was {was[1]})")
    return f"“{goal.text}” is {' and '.join(said)}" if said else ""


def _asks_or_answers(goal: Goal, lines: list[int]) -> str:
    asks = any(line in goal.offline_asked_in for line in lines)
    answers = goal.offline_answered_in in lines
    s = "" if len(lines) > 1 else "s"
    return (
        f"ask{s} for and answer{s}"
        if asks and answers
        else f"answer{s}"
        if answers
        else f"ask{s} for"
    )


def _check_it_is_not_answered_where_asked(form, before, script) -> None:
    """Asking lines are passed over once the goal is reached, when its answer is said: one
    line that did both asked again for what the learner had just done. Checked as the goal
    will be saved, the lines staff did not write followed to where the script moved them: a
    line written and one moved onto it were saved both (the attacker's replay)."""
    changed = [f for f in ("offline_answered_in", "offline_asked_in") if f in form.changed_data]
    if not changed or form.errors:
        return
    goal = copy.copy(form.instance)  # as cleaned: the fields written, the others as stored
    goal.offline_asked_in = list(goal.offline_asked_in or ())
    if form.instance.pk and isinstance(before, list) and before != script:
        goal.follow_the_script(
            before,
            script if isinstance(script, list) else [],
            asking="offline_asked_in" not in changed,
            answer="offline_answered_in" not in changed,
        )
    if goal.offline_answered_in is not None and goal.offline_answered_in in goal.offline_asked_in:
        form.add_error(
            changed[0],
            f"Line {goal.offline_answered_in} asks for this goal: it cannot answer it too.",
        )


def _number_the_unnumbered(forms_kept, taken_elsewhere: set[int]) -> None:
    """Goals left without a position come after the numbered ones, in the order listed."""
    taken = [form.cleaned_data.get("position") for form in forms_kept] + list(taken_elsewhere)
    last = max((number for number in taken if number is not None), default=0)
    for form in forms_kept:
        if form.cleaned_data.get("position") is None:
            last += 1
            if last > POSITION_MOST:
                raise ValidationError(
                    "Give each goal a position: the last is the largest there is."
                )
            form.cleaned_data["position"] = form.instance.position = last


class ScenarioForm(forms.ModelForm):
    def _post_clean(self):
        super()._post_clean()
        self.instance._unread_fields = frozenset(self.errors)  # for the goals' check


_ASCII_NUMBERS = re.compile(r"\s*(?:[0-9]+\s*(?:,\s*[0-9]+\s*)*)?")


class LineNumberField(forms.IntegerField):
    """The line answering a goal, in the digits 0 to 9 (int() took an Arabic-Indic "٣" as 3)."""

    def to_python(self, value):
        if isinstance(value, str) and value.strip() and not value.strip().isascii():
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class LineNumbersField(SimpleArrayField):
    """A goal's asking lines as staff type them: "six" was told "Item 1 in the array did not
    validate: Enter a whole number." (a newcomer's walk)."""

    def clean(self, value):
        if isinstance(value, str):  # "6," or "2,,3": the numbers typed, not empty items
            value = ",".join(part for part in value.split(",") if part.strip())
        try:
            # In the digits 0 to 9: int() took an Arabic-Indic "٣" as line 3.
            if isinstance(value, str) and not _ASCII_NUMBERS.fullmatch(value):
                raise ValidationError("not written in digits 0 to 9")
            numbers = super().clean(value)
        except ValidationError as error:
            raise ValidationError(
                "Write the lines' numbers (1 for the script's first) with commas between "
                "them, e.g. “2” or “2,3”.",
                code="invalid",
            ) from error
        # Past what the column holds the model's check said "Item 1 in the array did not
        # validate:" and no more; lines the script lacks are told with its length (the formset).
        if too_far := [number for number in numbers if number > POSITION_MOST]:
            raise ValidationError(f"There is no line {too_far[0]}.", code="invalid")
        return numbers


class GoalInline(StaffTabularInline):
    model = Goal
    formset = GoalFormSet
    extra = 3
    max_num = MAX_GOALS
    # "Add another Goal" went at the fifth with no word why (a newcomer's walk).
    verbose_name_plural = f"goals (at most {MAX_GOALS})"
    fields = (
        "position",
        "text",
        "offline_pattern",
        "offline_asked_in",
        "offline_answered_in",
        "offline_goes_on_after_answer",
    )

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "offline_answered_in":  # "-1" was told "at least 0", which is none
            kwargs["min_value"] = 1
            kwargs["form_class"] = LineNumberField
        if db_field.name == "offline_asked_in":
            kwargs["form_class"] = LineNumbersField
        return super().formfield_for_dbfield(db_field, request, **kwargs)


def _deletion_refused(request, scenarios, error: Exception | None = None) -> None:
    for scenario in scenarios:
        deactivate_url = reverse("admin:scenarios_scenario_deactivate", args=[scenario.pk])
        messages.error(
            request,
            format_html(
                "“{}” cannot be deleted: learners have sessions in it, and their history "
                "needs the scene. "
                '<a href="{}">Deactivate it instead</a>: it disappears for learners and their '
                "history stays.",
                scenario,
                deactivate_url,
            ),
        )
    if error is not None and not scenarios:
        messages.error(request, f"The database refused the deletion: {error}")


@admin.action(permissions=["delete"], description="Delete selected scenarios")
def delete_unused_scenarios(modeladmin, request, queryset):
    """The stock bulk delete, refused up front when any selected scenario has sessions."""
    used = list(queryset.filter(pk__in=Session.objects.values("scenario_id")))
    if used:
        _deletion_refused(request, used)
        return None
    try:
        return delete_selected(modeladmin, request, queryset)
    except IntegrityError as error:  # a session started between the check and the delete
        _deletion_refused(request, list(queryset), error)
        return None


def _scenes(scenarios: list[Scenario]) -> str:
    """ "“Party”" or "3 scenes": "Activated 1 scenario(s)." read as a form's (a newcomer's walk)."""
    if len(scenarios) == 1:
        return f"“{scenarios[0].title}”"
    return f"{len(scenarios)} scenes"


@admin.action(permissions=["change"], description="Activate selected scenarios")
@transaction.atomic
def activate_scenarios(modeladmin, request, queryset):
    activated = []
    # Locked while checked and saved: a change form that emptied the brief meanwhile was
    # saved first, and the scene went live without it (the attacker's recheck).
    chosen = Scenario.objects.filter(pk__in=list(queryset.values_list("pk", flat=True)))
    already = list(chosen.filter(is_active=True))
    for scenario in chosen.filter(is_active=False).order_by("pk").select_for_update():
        missing = scenario.missing_for_play()
        if missing:
            messages.error(request, _cannot_be_active(scenario, missing))
            continue
        scenario.is_active = True
        scenario.save(update_fields=["is_active"])
        modeladmin.log_change(request, scenario, [{"changed": {"fields": ["Is active"]}}])
        activated.append(scenario)
        if short := _script_too_short_for_the_goals(scenario):  # as its save warns
            messages.warning(request, short)
    if activated:
        modeladmin.message_user(request, f"Activated {_scenes(activated)}.")
    _say_which_were_already(modeladmin, request, already, "active")


def _say_which_were_already(modeladmin, request, scenes: list[Scenario], state: str) -> None:
    """An action on scenes that were so already said nothing, or "Deactivated 0 scenes." (a
    newcomer's recheck)."""
    if scenes:
        were = "was" if len(scenes) == 1 else "were"
        modeladmin.message_user(request, f"{_scenes(scenes)} {were} {state} already.")


@admin.action(permissions=["change"], description="Deactivate selected scenarios")
def deactivate_scenarios(modeladmin, request, queryset):
    changed, already = list(queryset.filter(is_active=True)), list(queryset.filter(is_active=False))
    queryset.filter(pk__in=[s.pk for s in changed]).update(is_active=False)
    for scenario in changed:
        modeladmin.log_change(request, scenario, [{"changed": {"fields": ["Is active"]}}])
    if changed:
        modeladmin.message_user(request, f"Deactivated {_scenes(changed)}.")
    _say_which_were_already(modeladmin, request, already, "inactive")


@admin.register(Scenario)
class ScenarioAdmin(StaffModelAdmin):
    list_display = ("title", "emoji", "code", "is_active", "sort_order", "session_count")
    list_display_links = ("title",)
    list_editable = ("sort_order",)  # activating checks the scene is complete: an action
    list_filter = ("is_active",)
    search_fields = ("title", "code")
    ordering = ("sort_order", "id")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "title",
                    "emoji",
                    "code",
                    "description",
                    "suggested_levels",
                    "is_active",
                    "sort_order",
                )
            },
        ),
        (
            "The character",
            {
                "fields": (
                    "character_name",
                    "character_brief",
                    "initial_message_main",
                    "initial_message_helper",
                    "vocabulary",
                )
            },
        ),
        ("Without an API key", {"fields": ("offline_lines", "numbered_script", "offline_tips")}),
        ("The assembled system prompt", {"fields": ("prompt_preview",)}),
    )
    readonly_fields = ("prompt_preview", "numbered_script")
    form = ScenarioForm
    inlines = (GoalInline,)
    actions = (activate_scenarios, deactivate_scenarios, delete_unused_scenarios)

    def get_changeform_initial_data(self, request):
        # A new scene starts as a draft: saved active, it had to be complete at once, and the
        # box was easy to miss (a newcomer's walk).
        # And after the others in the picker: at 0 it came above all eleven shipped scenes.
        last = Scenario.objects.aggregate(last=Max("sort_order"))["last"] or 0
        return {
            "is_active": False,
            "sort_order": min(last + 10, 32767),  # a smallint
            **super().get_changeform_initial_data(request),
        }

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if not form.instance.is_active:  # "added successfully" said no more (a newcomer's walk)
            messages.warning(request, _not_seen_yet(form.instance, added=not change))
        self._follow_the_script(request, form, formsets, change)
        if short := _script_too_short_for_the_goals(form.instance):  # its goals as now saved
            messages.warning(request, short)
        for goal in form.instance.goals.all():
            if parts := left_out_one_way(goal.offline_pattern):
                messages.warning(request, _left_out_one_way(goal, parts))

    def _follow_the_script(self, request, form, formsets, change) -> None:
        """The goals' asking and answer lines follow their lines to where staff moved them."""
        before = getattr(form.instance, "_script_as_stored", None)
        after = form.instance.offline_lines
        if not change or before == after or not isinstance(before, list):
            return
        # Lines staff wrote in this save named lines of the new script already.
        written_now = {
            goal_form.instance.pk: set(goal_form.changed_data)
            for formset in formsets
            for goal_form in formset.forms
            if goal_form.instance.pk
        }
        moved = []
        for goal in form.instance.goals.exclude(offline_asked_in=[], offline_answered_in=None):
            written = written_now.get(goal.pk, set())
            was = (list(goal.offline_asked_in), goal.offline_answered_in)
            lost, lost_answer, reworded = goal.follow_the_script(
                before,
                after if isinstance(after, list) else [],
                asking="offline_asked_in" not in written,
                answer="offline_answered_in" not in written,
            )
            if said := _lines_moved(goal, was, lost, lost_answer):
                moved.append(said)
            goal.save(
                update_fields=[
                    "offline_asked_in",
                    "offline_answered_in",
                    "offline_goes_on_after_answer",
                ]
            )
            if lost:
                messages.warning(
                    request,
                    f"The goal “{goal.text}” was asked for in line"
                    f"{'s' if len(lost) > 1 else ''} {', '.join(map(str, lost))} of the offline "
                    "script, which it no longer has as it was: say again which lines ask for it.",
                )
            if lost_answer is not None:
                messages.warning(
                    request,
                    f"The goal “{goal.text}” was answered in line {lost_answer} of the offline "
                    "script, which it no longer has as it was: say again which line answers it.",
                )
            named = {*goal.offline_asked_in, goal.offline_answered_in}
            if reworded := sorted(set(reworded) & named):
                lines = ", ".join(map(str, reworded))
                messages.warning(
                    request,
                    f"Line{'s' if len(reworded) > 1 else ''} {lines} of the offline script, "
                    f"reworded, still {_asks_or_answers(goal, reworded)} the goal “{goal.text}”: "
                    "change its lines below if that is no longer so.",
                )
        if moved:  # staff typed 7 and saw 8 (a newcomer's recheck)
            messages.info(
                request,
                "The offline script's lines moved, and the goals' line numbers with them: "
                + "; ".join(moved)
                + ".",
            )

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name in ONE_PER_LINE:
            field, help_text = ONE_PER_LINE[db_field.name]
            return field(
                label=db_field.verbose_name.capitalize(), help_text=help_text, required=False
            )
        if db_field.name == "description":  # its 200 characters shown whole (the recheck)
            kwargs["widget"] = forms.Textarea(attrs={"rows": 4, "cols": 100})
        if db_field.name == "suggested_levels":
            return forms.TypedMultipleChoiceField(
                choices=GermanLevel.choices,
                widget=forms.CheckboxSelectMultiple,
                required=False,
                label="Suggested levels",
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def render_change_form(self, request, context, *args, **kwargs):
        # What an active scene lacks is about the whole scene, brief and script as much as
        # goals, but it is found where the goals are counted: say it at the top, once. It was
        # also printed far down beside the goals (the last note).
        formsets = [inline.formset for inline in context.get("inline_admin_formsets", [])]
        form = context["adminform"].form
        for formset in formsets:
            errors = formset.non_form_errors()
            kept = [e for e in errors.as_data() if e.code != CANNOT_BE_ACTIVE]
            for error in errors.as_data():
                if error.code == CANNOT_BE_ACTIVE:
                    messages.error(request, error.message)
                    # Each field it lacks is marked too, and the goals: the top said "it
                    # lacks offline helper tips" (or goals) over a box with no mark (a
                    # newcomer's walk and recheck).
                    for field in getattr(error, "fields", []):
                        if field in form.fields and field not in form.errors:
                            form.add_error(field, NEEDED_TO_BE_ACTIVE)
                    if "goals" in getattr(error, "fields", []):
                        kept.append(ValidationError(GOALS_NEEDED_TO_BE_ACTIVE))
            errors.data = kept
        if "errors" in context:  # "Please correct the error below" only for what is below
            context["errors"] = helpers.AdminErrorList(context["adminform"].form, formsets)
        return super().render_change_form(request, context, *args, **kwargs)

    @admin.display(description="The script by number")
    def numbered_script(self, obj: Scenario) -> str:
        """The saved script's lines with the numbers a goal's "asked for in offline lines"
        names: the box numbers none (a newcomer's walk)."""
        lines = obj.offline_lines if isinstance(obj.offline_lines, list) else []
        if not lines:
            return "No script saved yet."
        return format_html(
            '<ol class="numbered-script">{}</ol>',
            format_html_join("", "<li>{}</li>", ((line,) for line in lines)),
        )

    @admin.display(description="System prompt (at A1, as saved)")
    def prompt_preview(self, obj: Scenario) -> str:
        if obj.pk is None:
            return "Save the scenario to see its prompt."
        level = (obj.suggested_levels or [GermanLevel.A1])[0]
        prompt = character_prompt(obj, level, list(obj.goals.all()))
        return format_html('<pre class="prompt-preview">{}</pre>', prompt)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_session_count=Count("sessions"))

    @admin.display(description="sessions", ordering="_session_count")
    def session_count(self, obj: Scenario) -> int:
        return obj._session_count

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # replaced by delete_unused_scenarios
        return actions

    def get_urls(self):
        return [
            path(
                "<int:object_id>/deactivate/",
                self.admin_site.admin_view(self.deactivate_view),
                name="scenarios_scenario_deactivate",
            ),
            *super().get_urls(),
        ]

    def delete_view(self, request, object_id, extra_context=None):
        scenario = self.get_object(request, object_id)
        if scenario is not None and scenario.sessions.exists():
            _deletion_refused(request, [scenario])
            return HttpResponseRedirect(
                reverse("admin:scenarios_scenario_change", args=[scenario.pk])
            )
        try:
            return super().delete_view(request, object_id, extra_context)
        except IntegrityError as error:  # the RESTRICT won a race with the check above
            _deletion_refused(request, [scenario] if scenario else [], error)
            return HttpResponseRedirect(reverse("admin:scenarios_scenario_changelist"))

    def deactivate_view(self, request, object_id: int):
        if not self.has_change_permission(request):
            raise PermissionDenied
        scenario = get_object_or_404(Scenario, pk=object_id)
        if request.method == "POST":
            if scenario.is_active:
                scenario.is_active = False
                scenario.save(update_fields=["is_active"])
                self.log_change(request, scenario, [{"changed": {"fields": ["Is active"]}}])
            self.message_user(request, f"“{scenario}” is deactivated: learners no longer see it.")
            return HttpResponseRedirect(reverse("admin:scenarios_scenario_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Deactivate “{scenario}”?",
            "opts": self.opts,
            "object": scenario,
            "session_count": scenario.sessions.count(),
        }
        return TemplateResponse(
            request, "admin/scenarios/scenario/deactivate_confirmation.html", context
        )
