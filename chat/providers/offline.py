"""The offline partner, for running without an API key: the same streaming, scripted lines."""

import asyncio
import re
from collections.abc import AsyncIterator

import regex
from django.conf import settings

from chat.models import Message
from chat.providers.base import OnRetry, ReplyDone, ReplyRequest
from learning import deck
from lib.text import as_typed_and_with_umlauts
from scenarios.models import pattern_matches


class OfflineProvider:
    """A scripted partner for running without an API key: the same streaming, canned lines.

    The character plays the scenario's offline script in order, one line per learner turn
    (passing over lines that ask for a goal already reached, and answering a goal reached
    with the line that answers it), and closes the scene with the last line, early once every
    goal is reached or when the scene's length says so (as the model is told to); with a goal
    still open, the learner answers that goodbye and the character's last word closes the
    scene. A goal is reached when the learner's message matches its pattern. The helper
    gives the scene's word list's meanings of the words it was asked about, or else the
    scenario's next tip, after a note that it cannot read what it was asked.
    """

    name = "offline"

    async def stream(
        self, request: ReplyRequest, on_retry: OnRetry
    ) -> AsyncIterator[str | ReplyDone]:
        goals: tuple[int, ...] = ()
        if request.chat == Message.ChatType.MAIN:
            lines = request.script or (FALLBACK_LINE,)
            # Off the event loop: each pattern may take up to its time limit.
            goals = await asyncio.to_thread(_goals_reached, request)
            texts = request.unanswered or (request.learner_text,)
            repeat = not goals and _asks_to_repeat(texts)
            after_goodbye = _answers_the_goodbye(request)
            if (after_goodbye and not repeat) or _leaves_early(request, goals):
                asked = await asyncio.to_thread(_asked_again, request)
                text, ended = _last_word(request, goals, asked), True
            elif not goals and (greeting := _greeting_back(request)):
                text, ended = greeting, False
            elif repeat and (after_goodbye or not request.closing) and _last_reply(request):
                # "Wie bitte?" to the goodbye is told it again, and leaves the last word still,
                # but once the scene's length is up (the 27th): it ended at 29 (the recheck).
                text, ended = _said_again(request), after_goodbye and request.closing
            else:
                indexes = _lines_to_say(request, lines, goals)
                turned_down = _turned_down(request)
                text = _joined(
                    # An answer that offers what was turned down, without its offer ("Gern.
                    # Möchten Sie vielleicht auch einen Kaffee?" after "Keinen Kaffee").
                    [
                        _without_questions(lines[i]) or lines[i]
                        if _offers(lines[i], turned_down)
                        else lines[i]
                        for i in indexes
                    ]
                )
                ended = indexes[-1] == len(lines) - 1
                answering = {line for line, number, _ in request.script_answers if number in goals}
                if not ended and not set(indexes) & answering:
                    asked = (*goals, *await asyncio.to_thread(_asked_again, request))
                    if (again := _said_before(request, lines, asked)) is not None:
                        text = f"{AS_SAID} {lines[again].strip()}"
                if not ended and not goals and (again := _not_understood(request, lines)):
                    text = again
                if ended and _leaves_the_last_word(request, goals):
                    ended = False
        else:
            # Off the event loop too: a phrase with a gap may scan a long question for a while.
            text, ended = await asyncio.to_thread(_helper_answer, request), False
        for position, word in enumerate(re.findall(r"\S+\s*", text)):
            if position and settings.OFFLINE_TOKEN_DELAY:
                await asyncio.sleep(settings.OFFLINE_TOKEN_DELAY)
            yield word
        yield ReplyDone(ended=ended, usage={}, attempts=1, goals_reached=goals)


def _lines_to_say(request: ReplyRequest, lines: tuple[str, ...], reached_now) -> list[int]:
    """The script's lines to reply with: those that answer the goals reached just now, not
    said yet, in the script's order ("Was kosten die Erdbeeren?" is answered with their price
    wherever it is asked: the seller packed up what was never ordered; of rent, bills and
    deposit asked at once only the rent was, and the rest never: a newcomer's recheck); else
    the next line. The last line closes the scene, after those answers: once the learner
    reaches the last open goal (its goodbye, say: it played on to its script's end, a
    newcomer's walk), or when the scene's length says so (as the model is told)."""
    last = len(lines) - 1
    said = _said(request, lines)
    still_open = {goal.number for goal in request.open_goals} - set(reached_now)
    still_asked = {line for line, number in request.script_asks if number in still_open}
    answers = sorted(
        {
            line
            for line, number, goes_on in request.script_answers
            if number in reached_now
            and line < last
            and line not in said
            # Not on past a line asking for what the learner has not done: "Das ist alles"
            # first went to the till with nothing bought (a newcomer's recheck).
            and not (goes_on and any(asking < line for asking in still_asked - set(said)))
        }
    )
    # Every goal reached: closed at once, where the answer asks nothing back ("Würde Ihnen
    # das passen?" is answered first).
    all_reached = bool(request.goal_ids) and len(reached_now) == len(request.open_goals)
    if request.closing or (all_reached and not (answers and _asks(lines[answers[-1]]))):
        return [*answers, last]
    return answers or [_next_line(request, lines, reached_now, said)]


def _leaves_the_last_word(request: ReplyRequest, reached_now) -> bool:
    """Whether the character's goodbye leaves the scene open for the learner's answer: with a
    goal still open ("Say goodbye", above all), unless this is the scene's last reply. The
    goodbye closed the scene, and "Say goodbye" could be reached only by saying it first,
    which nothing told (a newcomer's walk)."""
    still_open = {goal.number for goal in request.open_goals} - set(reached_now)
    return (
        bool(request.script and still_open)
        and not request.last_reply
        and not _takes_leave(request)  # who said goodbye first has had their word
    )


def _leaves_early(request: ReplyRequest, reached_now) -> bool:
    """The learner says goodbye before the scene's end: the character answers what it reached,
    says its goodbye (not the closing line, which may sum up what was not done) and the scene
    ends. With every goal reached, or the scene's length closing it, the closing line does."""
    every_goal = bool(request.goal_ids) and len(reached_now) == len(request.open_goals)
    return not request.closing and not every_goal and _takes_leave(request)


def _takes_leave(request: ReplyRequest) -> bool:
    """The learner says goodbye, in German: a sentence made of a goodbye and only what goes
    with one ("Danke, tschüss!", "Bis bald, Lena!", "Ich muss los, tschüss 👋"), in a message
    that asks nothing. The character then says its goodbye and the scene ends, as the model is
    told; it carried on with its script (a newcomer's walk). A sentence about a goodbye
    ("Tschüss ist ein schönes Wort.", "Was heißt tschüss", "Bis später, bitte.", "Ich muss
    morgen zur Arbeit gehen.") is none: those ended scenes (the rechecks)."""
    sentences = [
        sentence
        for text in _messages(request)
        for sentence in re.split(r"(?<=[.!?])\s+", _in_german(text).strip())
    ]
    if any(sentence.rstrip().endswith("?") for sentence in sentences):
        return False
    return any(
        is_a_goodbye(form) for sentence in sentences for form in as_typed_and_with_umlauts(sentence)
    )


def _said_again(request: ReplyRequest) -> str:
    """The character's last line again, for a learner who asks for it ("Wie bitte?", "Können
    Sie das wiederholen?"): the pharmacist went on to the dosage (a newcomer's walk)."""
    last = _last_reply(request).removeprefix(SAID_AGAIN).strip()
    # Not the greeting again: "Ich sage es noch einmal: Guten Abend! …" (the recheck).
    return f"{SAID_AGAIN} {_without_greetings(last) or last}"


def _without_greetings(line: str) -> str:
    """A line without the greetings it starts with ("Guten Abend! Gut, danke! Und Ihnen?")."""
    sentences = re.split(r"(?<=[.!?…])\s+", line.strip())
    while sentences and (
        _only_greets([sentences[0]]) or sentences[0] in ("Gut, danke!", "Und Ihnen?", "Und dir?")
    ):
        sentences.pop(0)
    return " ".join(sentences)


def _asks_to_repeat(texts) -> bool:
    return all(
        any(_REPEAT.fullmatch(spelling) for spelling in as_typed_and_with_umlauts(text.strip()))
        for text in texts
    )


_PLEASE = r"(?:\W+(?:bitte|danke|sorry))*"
_REPEAT = re.compile(
    rf"\W*(?:(?:entschuldigung|entschuldigen\s+sie|sorry|verzeihung|tut\s+mir\s+leid){_PLEASE}\W+)?"
    r"(?:wie\s+bitte|was\s+bitte|bitte\s+was|wie|was"
    r"|(?:können|könnten|kannst|könntest)\s+(?:sie|du)\s+(?:das\s+)?(?:bitte\s+)?"
    r"(?:(?:noch\s+(?:ein)?mal\s+)?wiederholen|(?:noch\s+(?:ein)?mal|langsamer)\s+sagen"
    r"|langsamer\s+sprechen)"
    r"|(?:bitte\s+)?noch\s+(?:ein)?mal|(?:bitte\s+)?langsamer|(?:bitte\s+)?wiederholen"
    r"|ich\s+(?:habe\s+)?(?:das\s+|sie\s+|dich\s+)?nicht\s+verstanden"
    r"|ich\s+verstehe\s+(?:das\s+|sie\s+|dich\s+)?nicht"
    r"|was\s+(?:haben\s+sie|hast\s+du)\s+gesagt)"
    rf"{_PLEASE}\W*",
    re.IGNORECASE,
)


def _greeting_back(request: ReplyRequest) -> str:
    """The character's answer to a message that only greets ("Servus!", "Hallo Lena, wie
    geht's?"): the greeting back, and its last question again. The script's first line
    answers an order or a name, and was said to a bare "Hallo!" ("Gern! Möchten Sie das im
    Brot oder lieber als Dürüm?": a newcomer's walk). "" for any other message."""
    if not (greeting := _only_greets(request.unanswered or (request.learner_text,))):
        return ""
    word, asks_how = greeting
    opening = _replies(request)[0] if _replies(request) else ""
    if _OF_THE_DAY.fullmatch(word) and (own := _OF_THE_DAY.search(opening)):
        word = own.group()  # "Guten Abend!" to "Guten Morgen!" in the evening (the recheck)
    back = " ".join(w if w in ("dich", "euch") else w[0].upper() + w[1:] for w in word.split())
    if asks_how:  # it did not ask back (the recheck)
        formal = any(_SIE.search(line) for line in (opening, *request.script))
        back += "! Gut, danke! Und " + ("Ihnen" if formal else "dir") + "?"
    last = _without_greetings(_last_reply(request).removeprefix(SAID_AGAIN).strip())
    asked = [q for q in re.split(r"(?<=[.!?…])\s+", last) if q.endswith("?")]
    # Its last question, wherever it stands ("Wie wäre es mit Kuchen? Heute haben wir …" was
    # greeted back with no question: the recheck).
    *_, question = re.split(r"\s[–—-]\s", asked[-1] if asked else "")
    first, _, rest = question.partition(", ")
    if rest and _GREETS.fullmatch(first):  # "Guten Morgen, was kann ich für Sie tun?"
        question = rest
    return " ".join(
        filter(None, [back + ("" if asks_how else "!"), question[:1].upper() + question[1:]])
    )


_OF_THE_DAY = re.compile(r"(?i:guten\s+(?:morgen|tag|abend)|morgen|tag|n[’']?abend)")
_SIE = re.compile(r"(?<![.!?]\s)(?<!^)\bSie\b|\bIhnen\b")


def _answered_by_the_script(request: ReplyRequest) -> int:
    """How many of the learner's turns before this one the script answered: not those that
    only greeted, or asked for the last line again."""
    turns = request.messages  # the walk-up, the opening, then the learner's and the replies
    learner_turns = [
        [block.get("text", "") for block in turn["content"] if block.get("type") == "text"]
        for turn in turns[2:-1:2]
    ]
    return sum(not (_only_greets(t) or _asks_to_repeat(t)) for t in learner_turns)


def _only_greets(texts) -> tuple[str, bool] | None:
    """The greeting ("guten tag") of messages that say nothing else, and whether they ask how
    the character is; None for messages that say more."""
    parts = [
        part.strip()
        for text in texts
        for part in _BETWEEN_PARTS.split(_NOT_A_WORD.sub(" ", text))
        if part.strip()
    ]
    greetings = [match for part in parts if (match := _GREETS.fullmatch(part))]
    asks_how = [part for part in parts if _HOW_ARE_YOU.fullmatch(part)]
    if not greetings or len(greetings) + len(asks_how) != len(parts):
        return None
    return greetings[0].group("greeting"), bool(asks_how)


_GREETS = re.compile(
    r"(?P<greeting>(?i:hallo|hallöchen|hi|hey|guten\s+(?:morgen|tag|abend)|morgen|tag"
    r"|n[’']?abend|servus|moin(?:\s+moin)?|grüß\s+(?:gott|dich|euch|sie)|grüezi|ciao))"
    r"(?:\s+(?:[A-ZÄÖÜ][\w-]*(?:\s+[A-ZÄÖÜ][\w-]*)?|(?i:zusammen|alle)))?"
)
_HOW_ARE_YOU = re.compile(
    r"(?i:(?:und\s+)?wie\s+geht[’']?s(?:\s+(?:dir|ihnen|euch))?|wie\s+geht\s+es"
    r"(?:\s+(?:dir|ihnen|euch))?)"
)


def _messages(request: ReplyRequest) -> list[str]:
    """The learner's messages since the character's last line, for what they say: a "Servus"
    or "Ciao" opening their first message of the scene greets, and is left out ("Servus! Ich
    heiße Sam." ticked "Say goodbye", whose pattern takes both: the last note's left item)."""
    texts = list(request.unanswered or (request.learner_text,))
    if request.turn == len(texts):
        texts[0] = _OPENING_GREETING.sub("", texts[0])
    return texts


_OPENING_GREETING = re.compile(r"^\W*(?:servus|ciao)\b[\s,.!]*", re.IGNORECASE)


def is_a_goodbye(sentence: str) -> bool:
    """Whether `sentence` is a goodbye: its parts (between commas, dashes and "und") are each a
    goodbye (maybe with a name), a thanks or the like, or a name, and one is a goodbye."""
    words = _NOT_A_WORD.sub(" ", sentence)  # emoji and marks: "Tschüss 😊" ("Tschüss <3")
    parts = [part.strip() for part in _BETWEEN_PARTS.split(words) if part.strip()]
    if not parts or not all(_GOES_WITH_A_GOODBYE.fullmatch(part) for part in parts):
        return False
    return any(_SAYS_GOODBYE.fullmatch(part) for part in parts)


_NOT_A_WORD = re.compile(r"<3|[^\w\s,;:.!…–—'’-]|_")
_BETWEEN_PARTS = re.compile(r"\s*(?:[,;:.!…–—]|\s-\s)+\s*|\s+und\s+", re.IGNORECASE)
_LEAVE = (
    r"tsch[üu](?:ss|ß|s)(?:i|le)?|(?:auf\s*)?wi(?:e)?d(?:e)?rseh(?:e)?n|auf\s*wiederschau(?:e)?n"
    r"|auf\s*wiederh[öo]ren|bis\s+(?:bald|später|dann|morgen|gleich|nachher|zum\s+nächsten\s+mal"
    r"|(?:nächste[nrs]?\s+)?(?:woche|montag|dienstag|mittwoch|donnerstag|freitag|samstag"
    r"|sonntag|wochenende|jahr|mal))|mach[’']?s\s+gut|mach\s+es\s+gut|gute\s+nacht"
    r"|wir\s+sehen\s+uns(?:\s+\w+)?|(?:einen\s+)?schönen\s+(?:tag|abend|feierabend)(?:\s+noch)?"
    r"|(?:ein\s+)?schönes\s+wochenende(?:\s+noch)?"
    r"|ich\s+muss(?:\s+(?:jetzt|leider|dann|schon|wirklich|langsam|nun|gleich))*\s+(?:los|gehen|weg)"
    r"|ich\s+geh(?:e)?\s+(?:jetzt|dann)"
)
# A name after a goodbye, or on its own between commas: capitalised words, or a title first.
_NAME = (
    r"(?:(?i:herr|frau|dr|doktor)\.?\s+)+[\w-]+(?:\s+[\w-]+)?"
    r"|[A-ZÄÖÜ][\w-]*(?:\s+[A-ZÄÖÜ][\w-]*){0,2}"
)
_WITH_IT = (
    r"(?:(?:vielen\s+)?(?:lieben\s+)?dank(?:e)?(?:\s*schön|\s+sehr|\s+für\s+alles)?|thanks"
    r"|ok(?:ay)?|also|gut|so|dann|ja|nein|na\s+dann|alles\s+klar|super|prima|bye|ciao|servus"
    r"|das\s+w[äa]r[’']?s|das\s+ist\s+alles|ebenso|gleichfalls|ebenfalls"
    r"|(?:ihnen|dir|euch|du)\s+auch|bis\s+dann)"
)
_SAYS_GOODBYE = re.compile(rf"(?i:(?:{_WITH_IT}\s+)*(?:{_LEAVE}))(?:\s+(?:{_NAME}))?")
_GOES_WITH_A_GOODBYE = re.compile(
    rf"{_SAYS_GOODBYE.pattern}|(?i:{_WITH_IT}(?:\s+{_WITH_IT})*)|(?:{_NAME})"
)


def _answers_the_goodbye(request: ReplyRequest) -> bool:
    """The character's latest line is the script's closing line, which left the last word to
    the learner: this is their answer, and the character's last word closes the scene."""
    return bool(request.script) and _last_line(request) == len(request.script) - 1


def _last_word(request: ReplyRequest, reached_now, asked_again=()) -> str:
    """The character's last word after the learner's answer to its goodbye: the answers to
    goals this message reached ("Was kostet das?"), or to one it asks for again ("Wie gesagt:
    …": "Was kostet ein Croissant?" went unanswered, a newcomer's recheck), then the closing
    line's last sentence ("Auf Wiedersehen!")."""
    lines = request.script
    last = len(lines) - 1
    said = _said(request, lines)
    # Without their questions: a goodbye that asks "Möchten Sie normale Brötchen oder
    # Körnerbrötchen?" waits for an answer it will not get (the recheck).
    answering = sorted(
        {
            line
            for line, number, _ in request.script_answers
            if number in reached_now and line < last and line not in said
        }
    )
    answers = [_without_questions(lines[line]) for line in answering]
    if not answering and (again := _said_before(request, lines, asked_again)) is not None:
        answers = [f"{AS_SAID} {_without_questions(lines[again])}"]
    return _joined([*filter(None, answers), _farewell(lines[last])])


def _farewell(closing_line: str) -> str:
    """The closing line's last sentence, or its goodbye after a dash ("tschüss und bis zum
    nächsten Mal!"): the kebab's sentence said again almost whole (a newcomer's recheck)."""
    last = re.split(r"(?<=[.!?…])\s+", closing_line.strip())[-1]
    *_, after_dash = re.split(r"\s[–—-]\s", last)
    if after_dash != last and _GOODBYE.search(after_dash):
        return after_dash[0].upper() + after_dash[1:]
    if last == closing_line.strip():
        # A closing line of one sentence was said again word for word ("Schönen Tag noch,
        # tschüss!" twice: a newcomer's walk): its goodbye after the comma.
        *_, after_comma = re.split(r",\s+", last)
        if after_comma != last and _GOODBYE.search(after_comma):
            return after_comma[0].upper() + after_comma[1:]
    return last


_GOODBYE = re.compile(r"tsch[üu]ss|wiedersehen|wiederh[öo]ren|\bbis\b|ciao|servus", re.I)


def _said_before(request: ReplyRequest, lines: tuple[str, ...], reached_now) -> int | None:
    """The line answering a goal reached just now that the character said before, unasked
    ("Beides ist rezeptfrei"): asked then, it went on with the next line, which answered
    something else (a newcomer's recheck). It is said again."""
    said = _said(request, lines)
    # Not the line just said unless asked about: the learner answered it ("Zwei Brötchen,
    # bitte." to "Möchten Sie normale Brötchen oder Körnerbrötchen?" was told it again: the
    # attacker's recheck); "Brauche ich dafür ein Rezept?" to "Beides ist rezeptfrei" is.
    asked = any("?" in text for text in request.unanswered or (request.learner_text,))
    last = said[-1] if said and not asked else None
    again = [
        line
        for line, number, _ in request.script_answers
        if number in reached_now and line in said and line < len(lines) - 1 and line != last
    ]
    return min(again, default=None)


def _asked_again(request: ReplyRequest) -> tuple[int, ...]:
    """The goals reached before that a question in this message asks for again: "Was kostet
    der Apfelkuchen?" once the prices were asked went on with the script, no price said (a
    newcomer's recheck). Their answers, said before, are said again (`_said_before`)."""
    questions = [
        german
        for text in request.unanswered or (request.learner_text,)
        if "?" in text and (german := _in_german(text))
    ]
    return tuple(
        goal.number
        for goal in request.reached_goals
        if any(pattern_matches(goal.pattern, question) for question in questions)
    )


def _joined(lines: list[str]) -> str:
    """Lines said in one reply, each but the last without its closing question: "Die Kaution
    beträgt … 2.340 Euro." then "Die Wohnung ist ab dem ersten März frei. Würde Ihnen das
    passen?", not "Was möchten Sie noch wissen?" between them."""
    *before, last = [line.strip() for line in lines]
    return " ".join([*map(_without_closing_question, before), last])


def _without_questions(line: str) -> str:
    sentences = re.split(r"(?<=[.!?…])\s+", line.strip())
    return " ".join(sentence for sentence in sentences if not sentence.endswith("?"))


def _without_closing_question(line: str) -> str:
    sentences = re.split(r"(?<=[.!?…])\s+", line.strip())
    if len(sentences) > 1 and sentences[-1].endswith("?"):
        return " ".join(sentences[:-1])
    return line.strip()


def _asks(line: str) -> bool:
    return line.rstrip().endswith("?")


def _said(request: ReplyRequest, lines: tuple[str, ...]) -> list[int]:
    """The script's lines the character has said, in the order said (a line the script has
    twice is taken as the first not said yet after the one before)."""
    said: list[int] = []
    for text in _replies(request):
        for places in _lines_in(text, lines):
            places = [at for at in places if at not in said]
            after = [at for at in places if not said or at > said[-1]]
            if places:
                said.append((after or places)[0])
    return said


def _replies(request: ReplyRequest) -> list[str]:
    return [
        "".join(block.get("text", "") for block in turn["content"] if block.get("type") == "text")
        for turn in request.messages
        if turn["role"] == "assistant"
    ]


def _lines_in(text: str, lines: tuple[str, ...]) -> list[list[int]]:
    """The script's lines a reply is made of, as `_joined` joined them: for each, the lines it
    may be (a line the script has twice); none for a reply that is not the script's."""
    forms = [
        (at, form)
        for at, line in enumerate(lines)
        for form in {line.strip(), _without_closing_question(line)}
        if form
    ]
    found, rest = [], text.strip()
    while rest:
        matches = [(len(form), at) for at, form in forms if rest.startswith(form)]
        if not matches:
            return []
        longest = max(length for length, _ in matches)
        found.append(sorted(at for length, at in matches if length == longest))
        rest = rest[longest:].lstrip()
    return found


def _next_line(request: ReplyRequest, lines: tuple[str, ...], reached_now, said) -> int:
    """The first line not said yet after the last one said in the script's order, passing over
    lines that ask only for goals the learner has reached (it asked for the kilo of tomatoes
    just ordered: the last note's left item); the last line is never passed over. An answer
    said out of order is not in the script's order (the landlady goes on with her tour after
    the deposit), unless its goal says to go on after it (the till after "Das ist alles").
    With none of its lines said yet after the first turn (staff rewrote the script meanwhile),
    one line a learner message."""
    open_numbers = {goal.number for goal in request.open_goals}
    reached = {number for number, _ in request.goal_ids} - open_numbers | set(reached_now)
    declined = _declined_now(request) - reached
    asks: dict[int, set[int]] = {}
    answers: dict[int, set[int]] = {}
    for line, number in request.script_asks:
        asks.setdefault(line, set()).add(number)
    for line, number, _ in request.script_answers:
        answers.setdefault(line, set()).add(number)
    passed = reached | declined

    turned_down = _turned_down(request)

    def to_say(line: int) -> bool:
        if line in said or (line in asks and asks[line] <= passed):
            return False
        if turned_down and _offers(lines[line], turned_down):
            return False
        return not (declined and line in answers and answers[line] <= declined)

    stays = {line for line, _, goes_on in request.script_answers if not goes_on}
    after = 0
    for line in said:  # an answer said where the script had it anyway is in its order
        if line not in stays or not any(map(to_say, range(after, line))):
            after = line + 1
    if not said:  # one line a learner turn (not a greeting, nor "Wie bitte?")
        answered = _answered_by_the_script(request)
        after = max(min(answered, len(lines) - 1), 0)
    last = len(lines) - 1
    while after < last and not to_say(after):
        after += 1
    return min(after, last)


def _helper_answer(request: ReplyRequest) -> str:
    """What the scene's word list says of the words the learner asked about, quoted as the
    model quotes them (so each can be kept with its meaning); else the next tip. Either after
    a note that it cannot read what it was asked: a tip with no word on why answered a
    question about something else (a newcomer's walk)."""
    # "Check my German" asks of the learner's line, "Explain" of the character's: "your line"
    # was said of the character's (a newcomer's walk).
    what = next(
        (what for asked, what in ABOUT_A_LINE if request.learner_text.startswith(asked)),
        "your question",
    )
    found = {}
    spellings = as_typed_and_with_umlauts(request.learner_text)  # "Doener" is "der Döner"
    for german, gloss in request.vocabulary:
        if where := next(filter(None, (deck.found_in(german, text) for text in spellings)), None):
            found[f"„{_as_quoted(german)}“ ({_as_quoted(gloss)})"] = where.start()
    note = CANNOT_READ_QUESTION_WORDS if what == "your question" else CANNOT_READ_LINE_WORDS
    if not found and what == "your question":
        found = _meant_in(request.learner_text, request.vocabulary)
        note = CANNOT_READ_QUESTION_MEANINGS
    if found:
        listed = sorted(found, key=found.get)[:MOST_LISTED]  # in the order asked about
        note = note.format(what=what)
        # A line each: a word kept from one has no example, rather than the list.
        return "\n".join([note, *listed])
    tips = request.tips or (FALLBACK_TIP,)
    tip = _tip_for(request.character_line, tips) or tips[(request.turn - 1) % len(tips)]
    return f"{CANNOT_READ.format(what=what)} {tip}"


def _meant_in(question: str, vocabulary) -> dict[str, int]:
    """The scene's words whose meaning the question names in English, by where it names them:
    "How do I say 'appointment'?" got a tip about something else (a newcomer's walk), where
    the word list has „der Termin“ (appointment). A meaning named whole, or a part of one
    asked for ("How do I say 'sore throat'?": "I have a sore throat.")."""
    asked = [
        (words, at)
        for phrase, at in _asked_for(question)
        if (words := _naming_words(phrase, or_at_least=3))
    ]
    found: dict[str, int] = {}
    for german, gloss in vocabulary:
        listed = f"„{_as_quoted(german)}“ ({_as_quoted(gloss)})"
        for meaning in _meanings(gloss):
            pattern = r"\s+".join(map(re.escape, meaning))
            if named := re.search(rf"(?<!\w){pattern}(?!\w)", question, re.IGNORECASE):
                found.setdefault(listed, named.start())
        whole = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.sub(r"\([^)]*\)", " ", gloss).lower())
        for words, at in asked:
            if any(whole[i : i + len(words)] == words for i in range(len(whole))):
                found.setdefault(listed, at)
    return found


def _asked_for(question: str) -> list[tuple[str, int]]:
    """What a question asks the German for, and where: its quotations ("'sore throat'"), or
    what follows "How do I say" ("How do I say I have to go?")."""
    quoted = [
        (m.group(1), m.start(1))
        for m in re.finditer(r"(?<!\w)['\"‘“„«](.+?)['\"’”“»](?!\w)", question)
    ]
    if quoted:
        return quoted
    said = _HOW_TO_SAY.search(question)
    return [(said.group(1), said.start(1))] if said else []


_HOW_TO_SAY = re.compile(
    r"\b(?:how\s+(?:do|can|would|should)\s+(?:i|you|we)\s+say|what(?:'s|\s+is)\s+(?:the\s+german"
    r"\s+(?:word\s+)?for\s+)?|german\s+for)\s+(.+?)(?:\s+in\s+german)?\s*[?.!]*\s*$",
    re.IGNORECASE,
)


def _naming_words(phrase: str, or_at_least: int = 0) -> list[str]:
    """A phrase's words, without a leading article or "to", if one of them names something
    (or, given `or_at_least`, there are that many: "I have to go")."""
    words = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", phrase.lower())
    while words and words[0] in ("to", "a", "an", "the"):
        words.pop(0)
    names = any(len(w) >= 3 and not _ENGLISH.fullmatch(w) for w in words)
    return words if names or (or_at_least and len(words) >= or_at_least) else []


def _meanings(gloss: str):
    """A gloss's meanings that name something, as words: "complaints, symptoms (plural)" has
    two, "to spell" one ("spell"); "The bill, please!" one ("bill"), not "please"."""
    for part in re.split(r"[,;]", re.sub(r"\([^)]*\)", " ", gloss)):
        if words := _naming_words(part):
            yield words


def _tip_for(line: str, tips: tuple[str, ...]) -> str:
    """The tip that quotes the character's last question, else the one that shares most words
    with its last line ("Wechselgeld" when it hands the change), counting only words one tip
    has, by their letters: tips came in turn, about a step long done (a newcomer's walk). ""
    when none shares enough."""
    question = _question_in(line).casefold()
    if question and (quoting := [tip for tip in tips if question in tip.casefold()]):
        return quoting[0]  # "Zum Hieressen oder zum Mitnehmen?" means …
    words = [_words_of(tip) for tip in tips]
    own = {word for word in set().union(*words) if sum(word in w for w in words) == 1}
    said = _words_of(line) & own

    def shared(at: int) -> int:  # a long word says more: "wechselgeld", not "danke"
        return sum(map(len, words[at] & said))

    best = max(range(len(tips)), key=lambda at: (shared(at), -at))
    return tips[best] if shared(best) >= SHARED_ENOUGH else ""


def _words_of(text: str) -> set[str]:
    return {
        word.lower()
        for spelling in as_typed_and_with_umlauts(text)
        for word in re.findall(r"[^\W\d_]{5,}", spelling)
    } - _SAY_NOTHING


# Words of five letters or more that say nothing of a step ("etwas" and "haben" took the
# drinks to the tip for no meat).
_SAY_NOTHING = frozenset(
    "haben habe hast etwas möchten möchte bitte danke gerne heute schon immer alles einen "
    "einem einer eines sagen sonst wirklich vielleicht dann denn noch diese dieser dieses "
    "können kann sind wollen würde wäre gibt geben nehmen machen macht schön schöne schönen "
    "guten gute hallo wenig viele vielen unser unsere ihnen ihren ihrer welche welchem welcher "
    "welches".split()
)


def _as_quoted(text: str) -> str:
    """A word list's text on one line, its quotation marks plain single ones: a gloss of
    staff's holding „…“ made a phrase of its own to keep, and one holding a line break gave
    the next word its meaning (the attacker's recheck); dropped, the marks took "du" out of
    'to say "du" to someone' (a newcomer's recheck)."""
    return " ".join(text.translate(_SINGLE_QUOTES).split())


_SINGLE_QUOTES = str.maketrans(dict.fromkeys(deck.QUOTE_MARKS, "'"))


def _goals_reached(request: ReplyRequest) -> tuple[int, ...]:
    """The open goals the learner's message reaches: in German, not "I want a Döner, please",
    which went on as if said in German (the last note's left item); by its sentences in
    German, where others are in English ("Zum Mitnehmen. And a Cola to go, please." was
    told to say it in German: a newcomer's recheck); not by a sentence asking what a word
    means ("Was heißt tschüss" ticked "Say goodbye", and closed a scene: the recheck)."""
    said = [
        german
        for text in _messages(request)
        if (german := _in_german(_without_word_questions(text)))
    ]
    reached = tuple(
        goal.number
        for goal in request.open_goals
        if any(
            pattern_matches(goal.pattern, text if _takes_a_no(goal) else _ordered_in(text))
            for text in said
        )
    )
    if _answers_the_goodbye(request) and any(map(_returns_the_wish, said)):
        # An answer to the character's goodbye that wishes it back says goodbye: "Danke, Ihnen
        # auch!", as the scene's tip says to answer "Schönes Wochenende!", left "Say goodbye"
        # open (a newcomer's recheck); "Danke!" or "Okay." did too (the next walk). Goals
        # whose pattern takes the character's goodbye are goodbyes.
        goodbye = request.script[-1]
        reached += tuple(
            goal.number
            for goal in request.open_goals
            if goal.number not in reached and pattern_matches(goal.pattern, goodbye)
        )
    if reached:
        return reached
    if any(_is_a_bare_yes(text) for text in said):
        return _asked_by_the_last_line(request)
    if any(_is_a_bare_no(text) for text in said):
        # A no answers a question whose goal takes a no ("Haben Sie eine BahnCard?": "Nein."
        # reached nothing, the last note's left item), as its pattern says; it turns down one
        # whose goal does not (`_declined_now`).
        goals = {goal.number: goal for goal in request.open_goals}
        return tuple(
            number for number in _asked_by_the_last_line(request) if _takes_a_no(goals[number])
        )
    return ()


def _ordered_in(text: str) -> str:
    """`text` without what it turns down: "Nein, kein Brot." ticked "Buy a loaf of bread" (a
    newcomer's walk)."""
    return _TURNED_DOWN.sub(" ", text)


# "kein Brot", "keine frischen Tomaten", "keinen Kaffee"
_TURNED_DOWN = re.compile(r"\bkein(?:e[nmrs]?)?\s+(?:\w+(?:e|en|em|er|es)\s+)?\w+", re.IGNORECASE)


def _takes_a_no(goal) -> bool:
    """Whether a goal's pattern says a no reaches it (`_REFUSALS`): "Ich habe keine
    BahnCard" says whether the learner has one."""
    return any(pattern_matches(goal.pattern, refusal) for refusal in _REFUSALS)


# A wish returned: "Ihnen auch!", "Gleichfalls!", "Dir auch, Lena!"
_WISH_BACK = re.compile(
    r"\b(?:ihnen|dir|euch|du) auch\b|\bgleichfalls\b|\bebenfalls\b|\bebenso\b", re.I
)


def _returns_the_wish(text: str) -> bool:
    return any(
        not sentence.endswith("?") and _WISH_BACK.search(sentence)
        for sentence in re.split(r"(?<=[.!?])\s+", text.strip())
    )


# "Was heißt …", "Was bedeutet …", "Wie sagt man …": a question about a word, not its use.
_ASKS_ABOUT_A_WORD = re.compile(
    r"^\W*(?:was\s+(?:heißt|heisst|bedeutet)|wie\s+sagt\s+man)\b", re.IGNORECASE
)


def _without_word_questions(text: str) -> str:
    sentences = re.split(r"(?<=[.!?])\s+", text.strip())
    return " ".join(sentence for sentence in sentences if not _ASKS_ABOUT_A_WORD.search(sentence))


def _not_understood(request: ReplyRequest, lines: tuple[str, ...]) -> str:
    """What the character says to a message that reached no goal where it cannot go on as if
    understood: to one in English, that it speaks none ("hallo, I want to send a package"
    was answered as if understood: a newcomer's walk); to an answer with a word of its last
    line's question mistyped ("zum mitnemen bitte"), the question again, once, where that
    line asks for a goal not reached (it went on, the goal left open for good: a newcomer's
    walk). "" when it goes on with its script."""
    text = " ".join(request.unanswered or (request.learner_text,))
    at = _last_line(request)
    question = _question_in(lines[at]) if at is not None else ""
    if _looks_english(text):
        return f"{NO_ENGLISH} {question}".strip()
    if not question or _last_reply(request).startswith(ASK_AGAIN):
        return ""
    open_numbers = {goal.number for goal in request.open_goals}
    if not any(line == at and number in open_numbers for line, number in request.script_asks):
        return ""
    return f"{ASK_AGAIN} {question}" if _mistypes_a_word_of(text, question) else ""


def _mistypes_a_word_of(text: str, question: str) -> bool:
    """Whether the learner's message has a word of the question (of seven letters or more)
    mistyped, "mitnemen" for "Mitnehmen", and none of them as it is: one letter wrong,
    missing or extra, not the first, and no other form of the word ("möchte" for "möchten").
    Shorter words, or two letters, took other words for typos: "fahre" for "Fahrt", "Mitnahme"
    for "Mitnehmen" (a newcomer's recheck)."""
    asked = {word.lower() for word in re.findall(r"[^\W\d_]{7,}", question)}
    typed = {
        word.lower()
        for spelling in as_typed_and_with_umlauts(text)
        for word in re.findall(r"[^\W\d_]{4,}", spelling)
    }
    return not asked & typed and any(
        _is_a_typo_of(word, asked_word) for word in typed for asked_word in asked
    )


def _is_a_typo_of(typed: str, word: str) -> bool:
    if typed[0] != word[0] or typed.startswith(word) or word.startswith(typed):
        return False
    return regex.fullmatch(rf"(?:{regex.escape(word)}){{e<=1}}", typed) is not None


def _last_reply(request: ReplyRequest) -> str:
    replies = _replies(request)
    return replies[-1].strip() if replies else ""


def _last_line(request: ReplyRequest) -> int | None:
    """The script's line the character said last, asked again or not; None after anything
    else (its opening, say)."""
    last = _last_reply(request)
    if not (last.startswith((ASK_AGAIN, NO_ENGLISH, AS_SAID)) or _lines_in(last, request.script)):
        return None
    said = _said(request, request.script)
    return said[-1] if said else None


def _question_in(line: str) -> str:
    """A line's last sentence if it is a question: "Zum Hieressen oder zum Mitnehmen?"."""
    question = re.split(r"(?<=[.!?])\s+", line.strip())[-1]
    return question if question.endswith("?") else ""


# English and never German: "hallo, I want to send a package" has four.
_ENGLISH = re.compile(
    r"\b(?:i|i'm|i'd|you|your|the|a|an|want|would|like|please|what|how|where|why|is|are|do"
    r"|does|don't|can|could|need|have|has|my|me|this|that|it|of|to|for|and|with|yes|thanks"
    r"|thank|hello|sorry|which|much|many|some|get|buy|send|take|from)\b",
    re.IGNORECASE,
)


def _in_german(text: str) -> str:
    """The sentences of `text` that are not in English."""
    sentences = re.split(r"(?<=[.!?])\s+", text.strip())
    return " ".join(sentence for sentence in sentences if not _looks_english(sentence))


def _looks_english(text: str) -> bool:
    words = re.findall(r"[^\W\d_]+(?:'[a-z]+)?", text)
    english = _ENGLISH.findall(text)
    return len(english) >= 2 and len(english) * 5 >= len(words) * 2  # two, and 40 %


def _asked_by_the_last_line(request: ReplyRequest) -> tuple[int, ...]:
    """The open goal the character's last line asks for when it ends with a question a yes
    answers ("Kommst du mit?"): "Ja, gerne!" to Tobias's lunch invitation reached no goal, as
    the same words after his coffee must not (a newcomer's walk). None where the line asks
    for more than one goal, for what a yes does not say ("Möchtest du etwas trinken?"), or
    for a goal a later line asks for again: the baker's "Brauchen Sie auch ein Brot?" goes on
    to which bread."""
    at = _last_line(request)
    if at is None or not asks_yes_or_no(request.script[at]):
        return ()
    open_numbers = {goal.number for goal in request.open_goals}
    asked = {number for line, number in request.script_asks if line == at} & open_numbers
    asked_later = {number for line, number in request.script_asks if line > at}
    return tuple(asked) if len(asked) == 1 and not asked & asked_later else ()


def _declined_now(request: ReplyRequest) -> set[int]:
    """The open goals the learner just turned down: a bare no ("Nein, danke.") to the
    character's last line, which asks for them. The lines that ask for them or answer them
    are passed over: to "Brauchen Sie auch ein Brot?", "Nein, danke" was told which breads
    there were (the last note's left item). Not a no to an either-or question ("Zum
    Hieressen oder zum Mitnehmen?"), which declines neither."""
    said = request.unanswered or (request.learner_text,)
    # And whatever the learner turned down by name in the scene: "Nein danke, ich brauche
    # keine Brötchen." was asked which rolls, and "Nein, kein Brot." told of the breads a
    # turn later (the rechecks).
    turned_down = [
        found.group() for text in _learner_texts(request) for found in _TURNED_DOWN.finditer(text)
    ]
    by_name = {
        goal.number
        for goal in request.open_goals
        if not _takes_a_no(goal)
        and any(pattern_matches(goal.pattern, phrase) for phrase in turned_down)
    }
    # "Nein, kein Brot." is a no, and so is the first sentence of "Nein. Ich nehme Kuchen."
    sentences = [
        sentence for text in said for sentence in re.split(r"(?<=[.!?])\s+", _ordered_in(text))
    ]
    if not any(_is_a_bare_no(sentence) for sentence in sentences):
        return by_name
    at = _last_line(request)
    if at is None:
        return by_name
    questions = [q for q in re.split(r"(?<=[.!?])\s+", request.script[at]) if q.endswith("?")]
    if not questions or any(re.search(r"\boder\b", q, re.IGNORECASE) for q in questions):
        return by_name
    open_numbers = {goal.number for goal in request.open_goals}
    return by_name | {number for line, number in request.script_asks if line == at} & open_numbers


def _learner_texts(request: ReplyRequest) -> list[str]:
    """Everything the learner has said in the role-play, this message included."""
    earlier = [
        block.get("text", "")
        for turn in request.messages[2:-1:2]  # the learner's turns answered, after the walk-up
        for block in turn["content"]
        if block.get("type") == "text"
    ]
    return [*earlier, *(request.unanswered or (request.learner_text,))]


def _turned_down(request: ReplyRequest) -> set[str]:
    """What the learner has turned down by name in the scene ("keinen Kaffee": "kaffee")."""
    return {
        found.group().split()[-1].lower()
        for text in _learner_texts(request)
        for found in _TURNED_DOWN.finditer(text)
    }


def _offers(line: str, things: set[str]) -> bool:
    """Whether a line asks about one of `things`, or a kind of one: "Möchten Sie vielleicht
    auch einen Kaffee zum Mitnehmen?" after "Keinen Kaffee, danke." (the recheck)."""
    questions = [q for q in re.split(r"(?<=[.!?])\s+", line) if q.endswith("?")]
    return any(
        re.search(rf"{re.escape(thing)}(?!\w)", question, re.IGNORECASE)  # "Roggenbrot"
        for question in questions
        for thing in things
    )


# A yes and nothing more: "Ja.", "Ja, gerne!", "Klar, warum nicht?", "Sehr gern, danke."
_YES = (
    r"ja|jawohl|klar|gerne?|natürlich|sicher|okay|ok|super|prima|genau|logo|absolut|doch"
    r"|auf jeden fall"
)
_YES_WITH = _YES + r"|bitte|danke|sehr|schön|toll|gut|warum nicht|das wäre"
_BARE_YES = re.compile(
    rf"^\W*(?:sehr\s+|na\s+(?!ja\b))?(?:{_YES})\b(?:\W+(?:{_YES_WITH})\b)*\W*$", re.IGNORECASE
)
# Not a question back ("Ja?", "Sicher?"), nor "na ja" (well…): both reached the goal (the
# attacker's recheck); "Klar, warum nicht?" is a yes.
_ASKS_BACK = re.compile(r"\?\W*$")
_WHY_NOT = re.compile(r"warum nicht\W*$", re.IGNORECASE)


def _is_a_bare_yes(text: str) -> bool:
    if _ASKS_BACK.search(text) and not _WHY_NOT.search(text):
        return False
    return any(_BARE_YES.match(spelling) for spelling in as_typed_and_with_umlauts(text))


# A no and nothing more: "Nein.", "Nein, danke!", "Nee, lieber nicht.", "Danke, nein."
_NO = r"nein|nee|ne|nö"
_NO_WITH = (
    _NO + r"|danke|bitte|schön|vielen dank|lieber nicht|heute nicht|erst ?mal nicht"
    r"|nicht nötig|brauche ich nicht|passt schon|das ist alles|das wär'?s"
)
_BARE_NO = re.compile(rf"^\W*(?:danke\W+)?(?:{_NO})\b(?:\W+(?:{_NO_WITH})\b)*\W*$", re.IGNORECASE)


# How a goal's pattern says a no reaches it: the BahnCard's takes "ich habe keine", the lunch
# invitation's "leider".
_REFUSALS = ("Nein, leider nicht.", "Nein, ich habe keine.", "Nein, ich habe keinen.")


def _is_a_bare_no(text: str) -> bool:
    if _ASKS_BACK.search(text):  # "Nein?"
        return False
    return any(_BARE_NO.match(spelling) for spelling in as_typed_and_with_umlauts(text))


# A question a yes answers asks none of these: "Was …?", "… woher …?", "… etwas …?", "… oder
# …?" (nor one that ends with a statement, after which the yes answers that).
_NOT_ANSWERED_BY_YES = re.compile(
    r"\b(?:was|wer|wen|wem|wessen|wie|wieso|wieviel|wo|woher|wohin|womit|wofür|worüber|wovon"
    r"|wozu|worauf|woran|wann|warum|weshalb|weswegen|welche[mnrs]?|etwas|oder)\b",
    re.IGNORECASE,
)


def asks_yes_or_no(line: str) -> bool:
    """Whether a script line ends with a question a yes answers ("Kommst du mit?")."""
    question = _question_in(line)
    return bool(question) and not _NOT_ANSWERED_BY_YES.search(question)


ASK_AGAIN = "Wie bitte?"
AS_SAID = "Wie gesagt:"
SAID_AGAIN = "Ich sage es noch einmal:"
NO_ENGLISH = "Entschuldigung, ich spreche kein Englisch. Auf Deutsch, bitte!"
ABOUT_A_LINE = (("Check my German:", "your line"), ("Explain this line:", "this line"))
CANNOT_READ = "(Offline mode: without the model I cannot read {what}, so here is a tip instead.)"
CANNOT_READ_LINE_WORDS = (
    "(Offline mode: without the model I cannot read {what}, but this is what the scene's "
    "word list says of its words.)"
)
CANNOT_READ_QUESTION_WORDS = (
    "(Offline mode: without the model I cannot read {what}, but this is what the "
    "scene's word list says of the words in it.)"
)
CANNOT_READ_QUESTION_MEANINGS = (
    "(Offline mode: without the model I cannot read {what}, but this is what the "
    "scene's word list has for the meanings it names.)"
)
SHARED_ENOUGH = 7  # letters: "Wechselgeld", or "Karte" and "zahlen", not "Ayran" alone
MOST_LISTED = 8  # as many as an answer offers to keep (learning.deck.MOST_PHRASES)

# Only for a scenario played while it lacks its script (an active one never does).
FALLBACK_LINE = "Danke, das war schön! Auf Wiedersehen!"
FALLBACK_TIP = "Try a short sentence in German; I'll help you with the words."
