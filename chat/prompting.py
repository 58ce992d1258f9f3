"""What the model is asked: the scene's length rules and the request for one reply.

Pure functions of a scenario and its messages (no database), so they are unit-tested alone.

A scene ends after roughly SOFT_CAP to CONCLUDE_AT main-chat messages: from SOFT_CAP the
character is told to steer towards an ending, from the reply that would be message CONCLUDE_AT
to close the scene (calling the end tool; the offline partner says its script's last line),
and the reply after which only one learner message would fit under HARD_CAP is its last. The
main chat never holds more than HARD_CAP messages: the message that fills it completes the
session.
"""

from chat.goals import GoalState, all_reached
from chat.models import Message
from chat.providers import END_TOOL, GOAL_TOOL, OpenGoal, ReplyRequest
from scenarios.models import Scenario
from scenarios.prompts import character_prompt, helper_prompt

SOFT_CAP = 15  # main-chat messages after which the character steers towards an ending
CONCLUDE_AT = 25  # ...and the reply that would be this one closes it
HARD_CAP = 30  # the session completes when the main chat holds this many messages
HELPER_CONTEXT_MESSAGES = 12  # recent role-play messages shown to the helper
# The helper's own chat sent with a question: at most this many of its latest messages, the
# oldest dropped this many at a time (so the prefix the API caches stays the same between).
HELPER_HISTORY_MESSAGES = 24
HELPER_HISTORY_STEP = 12
CACHED = {"type": "ephemeral"}

STEERING = {
    "soft": (
        "[Note from the app, not from the learner: the conversation has gone on for a while. "
        "Start steering towards a natural ending over the next few turns. Stay in role.]"
    ),
    # From the soft cap with goals still open, the character first gives the learner a way to
    # them: "start steering towards an ending" alone closed scenes at 15 that a learner could
    # have finished (a newcomer's walk).
    "soft_goals_open": (
        "[Note from the app, not from the learner: the conversation has gone on for a while. "
        "Over the next few turns, give the learner a natural opening for the open goals, then "
        "steer towards an ending. Stay in role.]"
    ),
    "conclude": (
        "[Note from the app: bring the scene to its close now: wrap up and say goodbye in "
        f"role. Call the {END_TOOL['name']} tool with your goodbye if the learner has said "
        "goodbye already; else leave them the last word, and call it in your next reply.]"
    ),
    "goals_done": (
        "[Note from the app: the learner has reached every goal of the scene. Steer to a "
        "natural, warm ending within one or two turns, then call the "
        f"{END_TOOL['name']} tool with your goodbye.]"
    ),
    "final": (
        "[Note from the app: this is your last reply. Say a warm goodbye in one or two "
        f"sentences and call the {END_TOOL['name']} tool.]"
    ),
}


def stage(main_count: int) -> str | None:
    """Where a scene with `main_count` main-chat messages (the learner's newest included)
    stands: None (playing), "soft" (steering towards an ending), "conclude" (closing) or
    "final" (the last reply: the learner's next message fills the scene)."""
    if main_count + 2 >= HARD_CAP:
        return "final"
    # Its reply would be message CONCLUDE_AT (the learner's messages are the even ones: from
    # the 26th, scenes that never reached their goals ended at 27 and offline at 29).
    if main_count + 1 >= CONCLUDE_AT:
        return "conclude"
    if main_count >= SOFT_CAP:
        return "soft"
    return None


def awaits_the_last_word(main_count: int, reply: str, script: tuple[str, ...]) -> bool:
    """Whether the character's newest line, `reply` (the scene open, `main_count` main-chat
    messages), was its goodbye, which leaves the learner the last word: the reply told to close
    the scene (CONCLUDE_AT on), or offline the script's closing line, said sooner with a goal
    open. The bar said only "time to say goodbye" there (a newcomer's walk)."""
    closing_line = script[-1].strip() if script else ""
    return main_count >= CONCLUDE_AT or (
        bool(closing_line) and reply.strip().endswith(closing_line)
    )


def fills_the_scene(main_count: int) -> bool:
    """A main chat of `main_count` messages is full: the session completes."""
    return main_count >= HARD_CAP


def build_request(
    scenario: Scenario,
    chat: str,
    messages: list[Message],
    *,
    level: str,
    goals: list[GoalState],
    scene_over: bool = False,
    due_words: list[str] | tuple[str, ...] = (),
    helper_earlier: tuple[int, int] = (0, 0),
) -> ReplyRequest:
    """The request for the next reply in `chat`, the learner's message being the last.
    `messages` may hold only the helper chat's latest HELPER_HISTORY_MESSAGES, with
    `helper_earlier` saying how many of its messages, and of the learner's questions, came
    before them."""
    main = [m for m in messages if m.chat_type == Message.ChatType.MAIN]
    if chat == Message.ChatType.MAIN:
        return _character_request(scenario, main, level, goals, due_words)
    helper = [m for m in messages if m.chat_type == Message.ChatType.HELPER]
    return _helper_request(scenario, helper, main, level, goals, scene_over, helper_earlier)


def _character_request(
    scenario: Scenario, main: list[Message], level: str, goals: list[GoalState], due_words=()
) -> ReplyRequest:
    prompt = character_prompt(scenario, level, [state.goal for state in goals])
    system = [{"type": "text", "text": prompt, "cache_control": CACHED}]
    steering = stage(len(main))  # the learner's message included
    if steering in (None, "soft") and all_reached(goals):
        steering = "goals_done"  # the stronger of the two: every goal is reached
    elif steering == "soft" and goals:
        steering = "soft_goals_open"
    if steering:
        system.append({"type": "text", "text": STEERING[steering]})
    turns = _cache_prefix(_as_turns(main, "(The learner walks up.)"), -1)
    if goals:  # after the cached prefix: the states change, the prompt does not
        turns[-1]["content"].append({"type": "text", "text": _goal_note(goals)})
    if due_words:
        words = ", ".join(f"„{word}“" for word in due_words)
        turns[-1]["content"].append(
            {
                "type": "text",
                "text": f"[Note from the app: words the learner is reviewing: {words}. Use "
                "one or two of them naturally in this scene if they fit; never quiz.]",
            }
        )
    # Every message since the character's last line: one left unanswered (a restart, a
    # failed reply) reached its goal offline only if it was the last (the attacker's
    # recheck); the model reads them together, as one turn.
    unanswered = []
    for message in reversed(main):
        if not message.from_learner:
            break
        unanswered.insert(0, message.content)
    learner_text = main[-1].content if main and main[-1].from_learner else ""
    return ReplyRequest(
        chat=Message.ChatType.MAIN,
        scenario_code=scenario.code,
        system=system,
        messages=turns,
        turn=sum(1 for m in main if m.from_learner),
        closing=steering in ("conclude", "final"),
        last_reply=steering == "final",
        tools=[END_TOOL, GOAL_TOOL],
        learner_text=learner_text,
        unanswered=tuple(unanswered),
        open_goals=tuple(
            OpenGoal(state.number, state.goal.offline_pattern)
            for state in goals
            if not state.reached
        ),
        reached_goals=tuple(
            OpenGoal(state.number, state.goal.offline_pattern) for state in goals if state.reached
        ),
        goal_ids=tuple((state.number, state.goal.pk) for state in goals),
        script=script_of(scenario),
        script_asks=tuple(
            (line - 1, state.number) for state in goals for line in state.goal.offline_asked_in
        ),
        script_answers=tuple(
            (
                state.goal.offline_answered_in - 1,
                state.number,
                state.goal.offline_goes_on_after_answer,
            )
            for state in goals
            if state.goal.offline_answered_in
        ),
    )


def script_of(scenario: Scenario) -> tuple[str, ...]:
    """The scene's offline script: the lines the offline partner plays, in order."""
    return _texts(scenario.offline_lines)


def _texts(value) -> tuple[str, ...]:
    """An offline script or tips as authored: a list of texts (anything else plays nothing)."""
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str) and item.strip())


def _word_list(value) -> tuple[tuple[str, str], ...]:
    """A scene's word list as authored: {"german": …, "gloss": …} entries, both text."""
    entries = value if isinstance(value, list) else []
    return tuple(
        (entry["german"], entry["gloss"])
        for entry in entries
        if isinstance(entry, dict)
        and isinstance(entry.get("german"), str)
        and isinstance(entry.get("gloss"), str)
        and entry["german"].strip()
        and entry["gloss"].strip()
    )


def _goal_note(goals: list[GoalState]) -> str:
    open_goals = "; ".join(f"{s.number}. {s.goal.text}" for s in goals if not s.reached)
    reached = ", ".join(str(s.number) for s in goals if s.reached) or "none yet"
    return (
        f"[Note from the app, not from the learner: goals reached so far: {reached}. "
        f"Open goals: {open_goals or 'none'}.]"
    )


def _helper_request(
    scenario: Scenario,
    helper: list[Message],
    main: list[Message],
    level: str,
    goals: list[GoalState],
    scene_over: bool,
    earlier: tuple[int, int] = (0, 0),
) -> ReplyRequest:
    context = "\n".join(
        f"{'Learner' if m.from_learner else scenario.character_name or 'Character'}: {m.content}"
        for m in main[-HELPER_CONTEXT_MESSAGES:]
    )
    if goals:
        context += "\n\nThe learner's goals in this scene:\n" + "\n".join(
            f"- [{'x' if s.reached else ' '}] {s.goal.text}" for s in goals
        )
    system = [
        {"type": "text", "text": helper_prompt(level), "cache_control": CACHED},
        {"type": "text", "text": f"Scenario: {scenario.emoji} {scenario.title}."},
    ]
    if scene_over:
        system.append({"type": "text", "text": "The role-play has ended; it is over."})
    # The role-play so far rides with the newest question only, so the earlier turns stay a
    # stable prefix, cached up to the helper's last answer.
    recent = helper[_helper_window_start(helper, earlier[0]) :]
    messages = _cache_prefix(_as_turns(recent, "(The learner opens the helper chat.)"), -2)
    messages[-1]["content"].insert(
        0, {"type": "text", "text": f"<roleplay_so_far>\n{context}\n</roleplay_so_far>"}
    )
    return ReplyRequest(
        chat=Message.ChatType.HELPER,
        scenario_code=scenario.code,
        system=system,
        messages=messages,
        turn=earlier[1] + sum(1 for m in helper if m.from_learner),
        learner_text=helper[-1].content if helper and helper[-1].from_learner else "",
        tips=_texts(scenario.offline_tips),
        character_line=next((m.content for m in reversed(main) if not m.from_learner), ""),
        vocabulary=_word_list(scenario.vocabulary),
    )


def _helper_window_start(helper: list[Message], earlier: int = 0) -> int:
    """Where the helper's chat sent with a question starts: its whole chat went every time,
    and a completed scene's helper takes questions for as long as the learner likes (81
    messages made each request 88 KB, growing until it would pass the model's window: the
    attacker's replay). It starts at a learner's question. `helper` is the chat's latest
    messages, `earlier` of its messages before them: the drops are counted from its start."""
    over = earlier + len(helper) - HELPER_HISTORY_MESSAGES
    if over <= 0:
        return 0
    start = -(-over // HELPER_HISTORY_STEP) * HELPER_HISTORY_STEP - earlier
    while start < len(helper) - 1 and not helper[start].from_learner:
        start += 1
    return start


def _as_turns(messages: list[Message], opening: str) -> list[dict]:
    """Messages as alternating user/assistant turns, starting with the user."""
    turns: list[dict] = []
    for message in messages:
        role = "user" if message.from_learner else "assistant"  # the API's roles
        if turns and turns[-1]["role"] == role:  # e.g. a second try after a failed reply
            turns[-1]["content"].append({"type": "text", "text": message.content})
        else:
            turns.append({"role": role, "content": [{"type": "text", "text": message.content}]})
    if not turns or turns[0]["role"] != "user":
        turns.insert(0, {"role": "user", "content": [{"type": "text", "text": opening}]})
    return turns


def _cache_prefix(turns: list[dict], index: int) -> list[dict]:
    """Mark turns[index] as the end of the prefix the API may cache (earlier turns, #prompt
    caching), so a long session does not pay full price for its history every turn."""
    if len(turns) >= abs(index):
        turns[index]["content"][-1]["cache_control"] = CACHED
    return turns
