import difflib
import re
from datetime import timedelta

import emoji
import regex
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.timesince import timesince

from accounts.models import GermanLevel, Profile
from lib.postgres import DatabaseForeignKey, RandomUUIDPrimaryKey
from lib.text import as_typed_and_with_umlauts, shows_something, unprintable

MIN_GOALS, MAX_GOALS = 3, 5
MAX_LINE = 2000  # an opening or scripted line becomes a message (at most 8,000 characters)


class Scenario(models.Model):
    """One role-play the learner can pick, with everything it needs to play: staff author it
    in the admin. What every scene shares (the character's rules, the helper, the levels)
    is in prompts/."""

    id = models.AutoField(primary_key=True)  # INTEGER, as in the seed
    code = models.SlugField(max_length=32, help_text="Stable name, used in links.")
    title = models.CharField(max_length=100)
    emoji = models.CharField(max_length=16)
    description = models.CharField(
        max_length=200, blank=True, default="", help_text="One line for the scene picker."
    )
    character_name = models.CharField(
        max_length=80, blank=True, default="", help_text="Who the learner talks to."
    )
    character_brief = models.TextField(
        blank=True,
        default="",
        help_text=(
            "The character's system prompt for this scene, in English: who they are, the "
            "setting (with prices and details), Sie or du, personality, the arc of the scene. "
            "The rules every character follows are added from prompts/character_rules.md."
        ),
    )
    initial_message_main = models.TextField(
        "opening line (German)",
        blank=True,
        validators=[MaxLengthValidator(MAX_LINE)],
        help_text="The character's opening line, in German.",
    )
    initial_message_helper = models.TextField(
        "helper's opening line (English)",
        blank=True,
        validators=[MaxLengthValidator(MAX_LINE)],
        help_text="The helper's opening line, in English.",
    )
    suggested_levels = ArrayField(
        models.CharField(max_length=2, choices=GermanLevel.choices),
        blank=True,
        default=list,
        help_text="The levels this scene suits best, shown in the picker.",
    )
    vocabulary = models.JSONField(
        blank=True,
        default=list,
        help_text=(
            'Words for the scene: [{"german": "die Schale", "gloss": "punnet"}, …]; without an '
            "API key the helper gives these meanings of the words a question names."
        ),
    )
    offline_lines = models.JSONField(
        "offline script",
        blank=True,
        default=list,
        help_text=(
            "Without an API key the character says these German lines in order, one per "
            "learner message; the last one closes the scene."
        ),
    )
    offline_tips = models.JSONField(
        blank=True,
        default=list,
        help_text=(
            "Without an API key the helper answers a question that names none of the "
            "vocabulary's words with these English tips, in turn."
        ),
    )
    is_active = models.BooleanField(default=True, db_default=True)
    sort_order = models.SmallIntegerField(default=0, db_default=0)
    created_at = models.DateTimeField(db_default=Now())
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "scenarios"
        ordering = ["sort_order", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["code"],
                name="scenarios_code_unique",
                violation_error_message="Another scenario already has this code.",
            ),
            models.UniqueConstraint(
                fields=["title"],
                name="scenarios_title_unique",
                violation_error_message="Another scenario already has this title.",
            ),
            models.CheckConstraint(
                condition=models.lookups.LessThanOrEqual(
                    models.Func("emoji", function="octet_length"), 16
                ),
                name="scenarios_emoji_size_limit",
                violation_error_message="The emoji may be at most 16 bytes.",
            ),
            # An opening line becomes a message at every Start: one longer than a message
            # may be, written outside the admin, made every Start fail (the attacker's replay).
            models.CheckConstraint(
                condition=models.lookups.LessThanOrEqual(
                    models.functions.Length("initial_message_main"), MAX_LINE
                )
                & models.lookups.LessThanOrEqual(
                    models.functions.Length("initial_message_helper"), MAX_LINE
                ),
                name="scenarios_opening_lines_length_limit",
                violation_error_message=f"An opening line may be at most {MAX_LINE} characters.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.emoji} {self.title}".strip()  # "“ Test”" without an emoji

    def suggested_from_above(self, level: str) -> str:
        """The lowest level suggested for the scene when every one is above `level` (the CEFR's
        names sort in its order), else "": the picker says so, where an A1 learner was offered
        an A2 · B1 scene at A1 without a word (a newcomer's walk)."""
        lowest = min(self.suggested_levels, default="")
        return lowest if lowest > level else ""

    def suggested_up_to_below(self, level: str) -> str:
        """The highest level suggested for the scene when every one is below `level`, else "":
        the picker said when a scene was above the learner, not when it was below."""
        highest = max(self.suggested_levels, default="")
        return highest if highest and highest < level else ""

    def offline_lines_passed_over(self) -> list[int]:
        """The script's lines (1 for its first), bar the last, that ask for a goal: without an
        API key each is passed over once its goals are reached, and the scene comes sooner to
        its closing line."""
        script = self.offline_lines if isinstance(self.offline_lines, list) else []
        asking = {number for goal in self.goals.all() for number in goal.offline_asked_in}
        return sorted(number for number in asking if 1 <= number < len(script))

    def offline_messages_at_least(self) -> int:
        """Without an API key, the fewest learner messages a role-play can have: one for each
        line before the last that is never passed over, and one that the last line answers;
        from an answer the script goes on after, reached at once, one for it and each such
        line after it, and the last."""
        script = self.offline_lines if isinstance(self.offline_lines, list) else []
        passed = set(self.offline_lines_passed_over())
        jumps = [
            1
            + sum(
                1 for line in range(goal.offline_answered_in + 1, len(script)) if line not in passed
            )
            + 1
            for goal in self.goals.all()
            if goal.offline_goes_on_after_answer
            and goal.offline_answered_in is not None
            and 1 <= goal.offline_answered_in < len(script)
        ]
        return max(min([len(script) - len(passed), *jumps]), 1)

    def missing_for_play(
        self, goal_count: int | None = None, unread: frozenset[str] = frozenset()
    ) -> list[str]:
        """What this scenario lacks to be played; an active scenario lacks nothing."""
        return list(self.lacking_for_play(goal_count, unread))

    def lacking_for_play(
        self, goal_count: int | None = None, unread: frozenset[str] = frozenset()
    ) -> dict[str, str]:
        """What this scenario lacks to be played, each with its field ("goals" for the goals).
        Fields in `unread` (a form could not read them, and says why) are not said to be
        lacking."""
        goals = self.goals.count() if goal_count is None else goal_count
        checks = {
            "the character's name": ("character_name", shows_something(self.character_name)),
            "the character's brief": ("character_brief", shows_something(self.character_brief)),
            "a description for the picker": ("description", shows_something(self.description)),
            "the opening line (German)": (
                "initial_message_main",
                shows_something(self.initial_message_main),
            ),
            "the helper's opening line (English)": (
                "initial_message_helper",
                shows_something(self.initial_message_helper),
            ),
            f"{MIN_GOALS} to {MAX_GOALS} goals": ("goals", MIN_GOALS <= goals <= MAX_GOALS),
            # Without, the picker showed the scene with no level and no word on it (a
            # newcomer's walk).
            "a suggested level": ("suggested_levels", bool(self.suggested_levels)),
            "a vocabulary list": ("vocabulary", _all_words(self.vocabulary)),
            "the offline script": ("offline_lines", _all_text(self.offline_lines)),
            "offline helper tips": ("offline_tips", _all_text(self.offline_tips)),
        }
        return {
            what: field
            for what, (field, present) in checks.items()
            if not present and field not in unread
        }

    def clean(self) -> None:
        for field, check in (
            ("vocabulary", _all_words),
            ("offline_lines", _all_text),
            ("offline_tips", _all_text),
        ):
            value = getattr(self, field)
            if value is None or value == "":
                setattr(self, field, [])  # left empty: a draft
            elif not isinstance(value, list) or (value and not check(value)):
                raise ValidationError({field: _SHAPES[field]})
        # A title of a zero-width space drew an empty card in the picker (the last note).
        errors = {
            field: SHOWS_NOTHING
            for field in STAFF_TEXT_FIELDS
            if getattr(self, field) and not shows_something(getattr(self, field))
        }
        if self.emoji and shows_something(self.emoji) and not looks_like_an_emoji(self.emoji):
            errors["emoji"] = NOT_AN_EMOJI
        errors |= {
            field: GARBLING_TEXT
            for field in (*STAFF_TEXT_FIELDS, "vocabulary", "offline_lines", "offline_tips")
            if any(unprintable(text) for text in _strings_in(getattr(self, field)))
        }
        if errors:
            raise ValidationError(errors)


_SHAPES = {
    "vocabulary": 'A list of {"german": …, "gloss": …} entries, both filled in.',
    "offline_lines": f"A list of German lines (text), none empty or over {MAX_LINE} characters.",
    "offline_tips": f"A list of English tips (text), none empty or over {MAX_LINE} characters.",
}


# What staff write that the pages show or the character says.
STAFF_TEXT_FIELDS = (
    "title",
    "emoji",
    "description",
    "character_name",
    "character_brief",
    "initial_message_main",
    "initial_message_helper",
)
NOT_AN_EMOJI = "An emoji, not text: the picker shows it beside the title (e.g. 🥨)."


# One emoji, drawn as an emoji: a keycap, a flag's pair of letters, or a pictograph that is
# drawn as one by default or with U+FE0F (U+2139 and U+203C have the emoji property though
# they are a letter and punctuation, and without it they draw as text), with a skin tone and
# a subdivision flag's tags; joined to others by ZWJ. A digit, "#" or "*" only as a keycap,
# and a skin tone never alone: "1234⃣", "™" and "🏻🍺" were taken, U+2139 + U+FE0F refused
# (the attacker's rechecks).
_PICTOGRAPH = (
    r"(?![\p{Emoji_Modifier}\p{Regional_Indicator}])"
    r"(?:\p{Emoji_Presentation}\uFE0F?|\p{Emoji}\uFE0F)"
)
_ONE_EMOJI = (
    rf"(?:[0-9#*]\uFE0F?\u20E3|\p{{Regional_Indicator}}{{2}}"
    rf"|{_PICTOGRAPH}\p{{Emoji_Modifier}}?(?:[\U000E0020-\U000E007E]+\U000E007F)?)"
)
_EMOJI = regex.compile(rf"(?:{_ONE_EMOJI}(?:\u200D{_ONE_EMOJI})*)+")
# A flag: a pair of regional indicators, or a black flag and a subdivision's tags (a real one is
# longer than the field, but "🏴" and two made-up tags fit: the recheck).
_FLAG = regex.compile(r"\p{Regional_Indicator}{2}|\U0001F3F4[\U000E0020-\U000E007E]+\U000E007F")


def looks_like_an_emoji(text: str) -> bool:
    """Emoji only: "not an emoji at all" was saved, and the picker showed it as the scene's
    emoji (a newcomer's walk). A flag only if it names a country or region (Unicode's list,
    by the emoji package): "🇦🇦" showed as two boxed letters."""
    if _EMOJI.fullmatch(text) is None:
        return False
    return all(emoji.is_emoji(flag[0]) for flag in _FLAG.finditer(text))


SHOWS_NOTHING = "Shows nothing on screen (only spaces or invisible characters): write it out."
GARBLING_TEXT = (
    "Contains control characters or direction overrides, which garble the page around it"
    " (right-to-left text needs none): remove them."
)


def _strings_in(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    return [text for item in value for text in _strings_in(item)] if isinstance(value, list) else []


def _all_text(value) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(
            isinstance(item, str) and shows_something(item) and len(item) <= MAX_LINE
            for item in value
        )
    )


def _all_words(value) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(
            isinstance(item, dict)
            and isinstance(item.get("german"), str)
            and shows_something(item["german"])
            and isinstance(item.get("gloss"), str)
            and shows_something(item["gloss"])
            for item in value
        )
    )


PATTERN_TIME_LIMIT = 0.05  # seconds; a pattern that backtracks badly must not stall a reply


MAX_REPEAT = 20  # {m,n} counts above this can make a tiny pattern compile to gigabytes
_COUNTED_REPEAT = regex.compile(r"\{\s*(\d*)\s*(?:,\s*(\d*)\s*)?\}")


MAX_COUNTED_REPEATS = 4  # nested, 20 ** 4 compiles in a tenth of a second; more would not


def validate_pattern(pattern: str) -> None:
    if len(_COUNTED_REPEAT.findall(pattern)) > MAX_COUNTED_REPEATS:
        raise ValidationError(f"At most {MAX_COUNTED_REPEATS} counted repeats ({{m,n}}), please.")
    for match in _COUNTED_REPEAT.finditer(pattern):
        if any(count and int(count) > MAX_REPEAT for count in match.groups()):
            raise ValidationError(
                f"Counted repeats above {{{MAX_REPEAT}}} are not allowed: "
                "they make matching slow for everyone."
            )
    try:
        regex.compile(pattern, regex.IGNORECASE)
    except regex.error as error:
        raise ValidationError(f"Not a valid regular expression: {error}.") from error


_TYPED = {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"}
_LEAVES_OUT = re.compile(r"\(\?<?!")


def left_out_one_way(pattern: str) -> list[str]:
    """What a pattern leaves out ((?!…) or (?<!…)) written with "ä", "ö", "ü" or "ß" only,
    not also typed as "ae", "oe", "ue" or "ss": a message is tried as typed too, and as typed
    "Ich bin Tieraerztin" passed (?!…ärztin) and named the learner "Tieraerztin" (the last
    note's item). Each such part once, as written."""
    parts = []
    for start in _LEAVES_OUT.finditer(pattern):
        depth, at = 0, start.start()
        while at < len(pattern):
            if pattern[at] == "\\":
                at += 2
                continue
            depth += {"(": 1, ")": -1}.get(pattern[at], 0)
            at += 1
            if depth == 0:
                break
        part = pattern[start.start() : at]
        folded = part.lower()
        if any(umlaut in folded and typed not in folded for umlaut, typed in _TYPED.items()):
            parts.append(part)
    return list(dict.fromkeys(parts))


def both_ways(part: str) -> str:
    """A part of a pattern with each "ä", "ö", "ü" or "ß" written typed too ("(?!\\w*ärztin)"
    is "(?!\\w*(?:ä|ae)rztin)"), what the admin suggests; "" where one stands in a character
    class ("[äa]"), which a group cannot go in."""
    written, in_class, at = [], False, 0
    while at < len(part):
        char = part[at]
        if char == "\\":
            written.append(part[at : at + 2])
            at += 2
            continue
        if char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char.lower() in _TYPED:
            if in_class:
                return ""
            written.append(f"(?:{char}|{_TYPED[char.lower()]})")
            at += 1
            continue
        written.append(char)
        at += 1
    return "".join(written)


def pattern_matches(pattern: str, text: str) -> bool:
    """Offline goals: does the learner's `text`, as typed or with the umlauts a keyboard
    without them typed as "ae", "oe", "ue" and "ss", match the goal's pattern? A pattern that
    is broken, or takes longer than PATTERN_TIME_LIMIT on a text, matches nothing."""
    try:
        validate_pattern(pattern)  # also for a pattern that reached the table otherwise
        compiled = regex.compile(pattern, regex.IGNORECASE)
        return any(
            compiled.search(spelling, timeout=PATTERN_TIME_LIMIT)
            for spelling in as_typed_and_with_umlauts(text)
        )
    except (ValidationError, regex.error, TimeoutError):
        return False


class Goal(models.Model):
    """Something the learner came to do in a scene ("Ask what the strawberries cost"). The
    character marks it reached when the learner's own message achieves it; offline, the
    learner's message matching `offline_pattern` does, the script's lines that ask for it
    (`offline_asked_in`) are skipped once it is, and the line that answers it
    (`offline_answered_in`) is said then, in or out of the script's order."""

    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="goals")
    position = models.PositiveSmallIntegerField(help_text="Goals are listed in this order.")
    text = models.CharField(max_length=120, help_text="For the learner, in English.")
    offline_pattern = models.CharField(
        max_length=1000,  # the shipped name goals' take 600 (scenarios 0022)
        validators=[validate_pattern],
        help_text=(
            "A regular expression (case-insensitive) a German learner message matches when it "
            "achieves this goal; used without an API key. A message is tried as typed and with "
            "“ae”, “oe”, “ue” and “ss” read as “ä”, “ö”, “ü” and “ß”, so write a word the "
            "pattern leaves out, (?!…), both ways: (?!(?:ä|ae)rztin)."
        ),
    )
    offline_asked_in = ArrayField(
        models.PositiveSmallIntegerField(),
        verbose_name="asked for in offline lines",
        blank=True,
        default=list,
        help_text=(
            "The offline script's lines (1 for its first) in which the character asks for this "
            "goal, e.g. “2” or “2,3”; without an API key they are skipped once the learner has "
            "reached it, and a bare yes (“Ja, gerne!”) to the last of them reaches it if that "
            "line ends with a yes-or-no question (“Kommst du mit?”); a bare no (“Nein, danke”) "
            "to one passes over them and the goal's answer line."
        ),
    )
    offline_answered_in = models.PositiveSmallIntegerField(
        verbose_name="answered in offline line",
        null=True,
        blank=True,
        help_text=(
            "The offline script's line (1 for its first) that answers this goal, e.g. the "
            "price for “Ask what it costs”; without an API key the character says it when "
            "the learner reaches the goal, then goes on with the first line not yet said."
        ),
    )
    offline_goes_on_after_answer = models.BooleanField(
        verbose_name="then go on after it",
        default=False,
        help_text=(
            "The script goes on from the line after the answer instead, leaving out the lines "
            "before it that were not said: “Das ist alles” leads to the till. The answer then "
            "waits while a line before it asks for a goal not reached yet: nothing bought, no "
            "till."
        ),
    )
    # A session completed before a goal was added was not played with it (chat.goals).
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "scenario_goals"
        ordering = ["scenario", "position"]
        constraints = [
            # Checked at commit: the admin saves goals one by one, so two that swap places, or
            # one numbered into the place of another deleted after it, met mid-way (a 500:
            # the attacker's recheck). The form checks the goals it saves against each other.
            models.UniqueConstraint(
                fields=["scenario", "position"],
                name="scenario_goals_position_unique",
                violation_error_message="Two goals have the same position.",
                deferrable=models.Deferrable.DEFERRED,
            ),
        ]

    def __str__(self) -> str:
        return self.text

    def clean(self) -> None:
        if unprintable(self.text):
            raise ValidationError({"text": GARBLING_TEXT})
        if not shows_something(self.text):
            raise ValidationError({"text": SHOWS_NOTHING})

    def reached_by(self, learner_text: str) -> bool:
        """Offline: the learner's message achieves this goal."""
        return pattern_matches(self.offline_pattern, learner_text)

    def follow_the_script(
        self, before: list, after: list, asking: bool = True, answer: bool = True
    ) -> tuple[list[int], int | None, list[int]]:
        """Staff edited the offline script from `before` to `after`: this goal's asking lines
        and its answer line follow their line to where it now stands (a line added above kept
        the old numbers, and the line they named was asked again: the attacker's recheck). A
        line is followed by aligning the two scripts, so a line the script has twice is told
        apart; a line reworded where it stood (as many lines in its place) is followed there
        (correcting "süß." to "süß!" dropped the goal's answer: a newcomer's walk); and then,
        if it moved, by its text where the new script has it once. Returns the numbers of the
        asking lines, and of the answer line, the script no longer has, which ask for and
        answer nothing now (an answer that became the closing line too), and the new numbers
        of those it followed reworded. `asking` and `answer` say which to follow (not those
        staff wrote in the same save)."""
        aligned, in_place = {}, {}
        matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
        for block in matcher.get_matching_blocks():
            for offset in range(block.size):
                aligned[block.a + offset + 1] = block.b + offset + 1
        for tag, start, end, new_start, new_end in matcher.get_opcodes():
            if tag == "replace" and end - start == new_end - new_start:
                for offset in range(end - start):
                    in_place[start + offset + 1] = new_start + offset + 1
        taken = set(aligned.values()) | set(in_place.values())
        reworded: list[int] = []

        def followed(number: int) -> int | None:
            if number in aligned:
                return aligned[number]
            if number in in_place:
                reworded.append(in_place[number])
                return in_place[number]
            text = before[number - 1] if 1 <= number <= len(before) else None
            places = [at for at, line in enumerate(after, 1) if line == text and at not in taken]
            if len(places) != 1:
                return None
            # Taken once: two lines of the same text moved to one place both followed it, and
            # the goal was asked for and answered there (the attacker's recheck).
            taken.add(places[0])
            return places[0]

        moved, lost = [], []
        for number in self.offline_asked_in if asking else ():
            if (now := followed(number)) is None:
                lost.append(number)
            else:
                moved.append(now)
        if asking:
            self.offline_asked_in = sorted(moved)  # "3, 2" after two lines swapped
        was, lost_answer = self.offline_answered_in, None
        if answer and was is not None:
            now = followed(was)
            self.offline_answered_in = now if now is not None and now < len(after) else None
            lost_answer = was if self.offline_answered_in is None else None
            if lost_answer is not None:  # it would go on after whatever line staff name next
                self.offline_goes_on_after_answer = False
        return lost, lost_answer, [number for number in reworded if number <= len(after)]


class SessionQuerySet(models.QuerySet):
    """The ways sessions are looked up, so each reads the same everywhere."""

    def of(self, learner_id) -> "SessionQuerySet":
        # Row-level security hides other learners' sessions anyway; this says so in the query.
        return self.filter(user_id=learner_id)

    def active(self) -> "SessionQuerySet":
        return self.filter(is_completed=False)

    def completed(self) -> "SessionQuerySet":
        return self.filter(is_completed=True)

    def with_scenario(self) -> "SessionQuerySet":
        return self.select_related("scenario")


class Session(models.Model):
    """One attempt at a scenario. At most one incomplete session per learner (seed decision 5)."""

    id = RandomUUIDPrimaryKey()
    user = DatabaseForeignKey(Profile, related_name="sessions")
    scenario = DatabaseForeignKey(Scenario, related_name="sessions")
    level = models.CharField(
        max_length=2, choices=GermanLevel.choices, default=GermanLevel.A1, db_default=GermanLevel.A1
    )
    is_completed = models.BooleanField(default=False, db_default=False)
    started_at = models.DateTimeField(db_default=Now())
    last_activity_at = models.DateTimeField(db_default=Now())
    completed_at = models.DateTimeField(null=True, blank=True)
    message_count_main = models.IntegerField(default=0, db_default=0)
    message_count_helper = models.IntegerField(default=0, db_default=0)
    duration_seconds = models.IntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(db_default=Now())
    # The goals' texts as the scene had them when it was completed ({goal id: text}), set by
    # the database: a goal staff reword later is not what this learner played.
    goals_played = models.JSONField(null=True, blank=True, editable=False)

    objects = SessionQuerySet.as_manager()

    class Meta:
        db_table = "sessions"
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(is_completed=False),
                name="idx_sessions_one_active_per_user",
                violation_error_message="You already have an active session.",
            ),
            models.CheckConstraint(
                condition=models.Q(is_completed=True, completed_at__isnull=False)
                | models.Q(is_completed=False, completed_at__isnull=True),
                name="sessions_completed_has_timestamp",
            ),
            models.CheckConstraint(
                condition=models.Q(completed_at__isnull=True)
                | models.Q(completed_at__gte=models.F("started_at")),
                name="sessions_completed_after_started",
            ),
            models.CheckConstraint(
                condition=models.Q(message_count_main__gte=0, message_count_helper__gte=0),
                name="sessions_message_counts_non_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(duration_seconds__isnull=True)
                | models.Q(duration_seconds__gte=0),
                name="sessions_duration_non_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(level__in=GermanLevel.values), name="sessions_level_valid"
            ),
        ]
        indexes = [
            # History: a learner's completed sessions, newest first.
            models.Index(
                "user",
                models.F("completed_at").desc(),
                name="idx_sessions_history",
                condition=models.Q(is_completed=True),
            ),
            # History filtered by scenario (seed #20).
            models.Index(
                "user",
                "scenario",
                models.F("completed_at").desc(),
                name="idx_sessions_scenario_history",
                condition=models.Q(is_completed=True),
            ),
            # Per-learner analytics (seed #20); also serves FK look-ups by user_id.
            models.Index(
                fields=["user", "scenario", "is_completed"], name="idx_sessions_user_scenario"
            ),
            # Scenario analytics and the RESTRICT check on scenario delete (seed #41).
            models.Index(fields=["scenario", "is_completed"], name="idx_sessions_scenario"),
            # Expired-session cleanup: incomplete sessions by inactivity.
            models.Index(
                fields=["last_activity_at"],
                name="idx_sessions_expiry",
                condition=models.Q(is_completed=False),
            ),
            # The admin's sessions list, newest first: a page reads 100 entries, not a sort of
            # the whole table (bench/scale.py).
            models.Index(
                models.F("started_at").desc(), models.F("id").desc(), name="idx_sessions_started"
            ),
        ]

    def __str__(self) -> str:
        return str(self.id)

    @property
    def started_label(self) -> str:
        """'just now', '5 minutes ago', '2 days ago': for the picker."""
        if timezone.now() - self.started_at < timedelta(minutes=1):
            return "just now"
        return f"{timesince(self.started_at)} ago"

    @property
    def helper_chat_messages(self) -> int:
        """Its helper chat's messages after the helper's greeting, which every session opens
        with: the history said "1 with the helper" of a learner who asked nothing (a newcomer's
        recheck)."""
        return max(self.message_count_helper - 1, 0)

    @property
    def duration_label(self) -> str:
        """How long the learner took, for history and transcripts ("" until completed)."""
        if self.duration_seconds is None:
            return ""
        if self.duration_seconds < 60:
            return "under a minute"
        return f"{round(self.duration_seconds / 60)} min"
