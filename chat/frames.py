"""What the websocket sends: HTML fragments that htmx swaps in out-of-band, and, on the hot
path, small JSON text deltas that static/js/chat.js appends.

Each chat has one message list and, after it, one *live slot* (`#<chat>-live`) for the reply
in flight: its streaming bubble, a "waiting" bubble, or the "Try again" box. One slot per chat
matches the rule of one reply in flight per chat, and makes every slot frame idempotent.

Streamed text carries offsets: a bubble is drawn with the text so far and `data-end` (its
length), each delta says where it starts, and the page appends only what it does not have.
So a bubble drawn mid-stream (a reload, a second tab) never shows a word twice.
"""

import json
from dataclasses import dataclass

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse

from chat import messages, prompting
from chat.conversations import ON_PAGE_AT_MOST
from chat.models import Message
from chat.providers import is_offline
from lib.text import UNSENDABLE, without_hidden_controls
from scenarios.lifecycle import WeeklyAllowance

CHATS = (Message.ChatType.MAIN, Message.ChatType.HELPER)


def _render(template: str, **context) -> str:
    return render_to_string(f"chat/frames/{template}", context)


@dataclass(frozen=True)
class Slot:
    """What a chat's live slot shows."""

    state: str  # "" (nothing), "streaming", "waiting" or "retry"
    reply: object = None  # the LiveReply when streaming
    text: str = ""  # its text so far, as drawn
    reason: str = ""  # why a retry is offered
    # waiting: the reply this process dropped (its claim was gone). A tab that shows another
    # reply streaming by now (the process holding the claim) keeps showing it.
    ends: str = ""

    @property
    def busy(self) -> bool:
        return self.state in ("streaming", "waiting")

    @property
    def asking_again(self) -> str:
        """ "try 2 of 3" while the model, which has not answered, is asked again (its bubble
        stayed empty for up to a minute: the last note's left item); "" otherwise."""
        attempt = getattr(self.reply, "attempt", 1)
        if self.state != "streaming" or attempt < 2 or self.text:
            return ""
        return f"try {attempt} of {settings.MODEL_RETRY_ATTEMPTS}"


def slot_for(chat: str, conversation, live: dict) -> Slot:
    """The live slot of `chat`: a reply streaming in this process, a reply in flight elsewhere,
    or a learner message left unanswered (a failure or a restart) that can be asked again."""
    if chat in live:
        reply = live[chat]
        return Slot("streaming", reply, reply.text)
    if chat in conversation.claimed:
        return Slot("waiting")
    main_closed = conversation.session.is_completed and chat == Message.ChatType.MAIN
    if messages.awaits_reply(conversation.messages, chat) and not main_closed:
        failure = conversation.failures.get(chat)
        return Slot("retry", reason=_failure_reason(failure) if failure else "")
    return Slot("")


INTERRUPTED = "The server restarted before the reply was finished."


# "Closing the scene" read as over already, at the goodbye the learner may answer (which
# may be a goal: a newcomer's recheck).
STAGE_LABELS = {
    "soft": "wrapping up",
    "conclude": "time to say goodbye",
    "final": "time to say goodbye",
}
# Offline, the script's goodbye comes by message 25; with a goal open, the learner's answer to
# it and the character's last word follow ("ends by 25" beside scenes of 27: the recheck).
OFFLINE_ENDS_BY = prompting.CONCLUDE_AT + 2


# The character has said goodbye and the learner's answer ends the scene (a phone's line has
# room for the short one only).
AWAITS_THE_LAST_WORD = "say goodbye back to finish"
AWAITS_THE_LAST_WORD_SHORT = "say goodbye back"


def progress(main_count: int, completed: bool = False, awaits_last_word: bool = False) -> dict:
    # What the next message meets: "time to say goodbye" shows before the learner's last
    # message, not only as the goodbye streams (a newcomer's recheck).
    stage = None if completed else prompting.stage(main_count + 1)
    awaits = awaits_last_word and not completed
    return {
        "count": main_count,
        # The bar fills to the length the line says: offline it was "1 of 30" beside "ends by
        # 27" (a newcomer's walk).
        "cap": OFFLINE_ENDS_BY if is_offline() else prompting.HARD_CAP,
        "stage": AWAITS_THE_LAST_WORD if awaits else STAGE_LABELS.get(stage, ""),
        "short_stage": AWAITS_THE_LAST_WORD_SHORT if awaits else STAGE_LABELS.get(stage, ""),
        "complete": completed,
        # "N messages", not "N of 30 messages": "1 of 30 messages · ends by 25" said two
        # lengths (a newcomer's walk); the hard cap is said on the wide line only.
        # A short script of staff's ended at message 9, under "about 15 to 25" (a newcomer's walk).
        # And one whose goals were all reached ended sooner still (the next walk). Offline the
        # script ends it by the 25th: "30 at most" beside "ends by 25" (the recheck). Said in
        # the offline banner's words ("scripted lines"), not "offline when the script ends"
        # (developers' words: a newcomer's walk).
        "hint": f"the scene ends when its scripted lines run out or every goal is reached, by"
        f" message {OFFLINE_ENDS_BY}"
        if is_offline()
        else f"scenes end after about {prompting.SOFT_CAP}–{prompting.CONCLUDE_AT} messages"
        f" ({prompting.HARD_CAP} at most)",
        # A phone's one line has room for this only (without it, 30 read as the scene's length;
        # "ends with its script" said nothing to a learner: a newcomer's walk). Offline, the
        # script closes the scene at its last line, by the 27th message.
        "short_hint": f"ends by {OFFLINE_ENDS_BY}"
        if is_offline()
        else f"ends at {prompting.SOFT_CAP}–{prompting.CONCLUDE_AT}",
    }


def learner_message(
    message: Message, character: str, main_count: int | None, kept: bool = False
) -> str:
    return _render(
        "learner_message.html",
        message=message,
        kept_ids=_kept_ids(message, kept),
        chat=message.chat_type,
        character=character,
        progress=progress(main_count) if main_count is not None else None,
    )


def slot(chat: str, slot: Slot) -> str:
    """A chat's live slot and its send button."""
    return _render("slot.html", chat=chat, slot=slot, role=Message.replier(chat))


def reply_started(reply) -> str:
    return slot(reply.chat, Slot("streaming", reply, reply.text))


def reply_delta(reply, at: int, text: str) -> str:
    # The hot path (up to 20 frames a second per reply): JSON, not a template.
    return json.dumps({"reply": reply.reply_id, "at": at, "text": text}, ensure_ascii=False)


def reply_finished(reply, stored, character: str) -> str:
    return _render(
        "reply_finished.html",
        chat=reply.chat,
        message=stored.message,
        kept_ids=_kept_ids(stored.message, stored.kept),
        kept_phrases=stored.kept_phrases,
        character=character,
        completed=stored.completed,
        progress=progress(stored.main_count, stored.completed, stored.awaits_last_word)
        if reply.chat == Message.ChatType.MAIN
        else None,
        completion=completion(reply.session_id, stored.week) if stored.completed else None,
        goals=stored.goals,
    )


def turn_completed(turn, character: str) -> str:
    """The learner's message that filled the scene: it is shown, and the scene closes."""
    return _render(
        "turn_completed.html",
        message=turn.message,
        kept_ids=_kept_ids(turn.message, turn.kept),
        chat=turn.message.chat_type,
        character=character,
        progress=progress(turn.main_count, True),
        completion=completion(turn.message.session_id, turn.week),
        goals=turn.goals,
    )


def _kept_ids(message: Message, kept: bool) -> set:
    """A new message's id if the deck holds its line, as the page's `kept_ids` would."""
    return {message.id} if kept else set()


def reply_failed(reply, error) -> str:
    return slot(reply.chat, Slot("retry", reason=_failure_reason(error)))


def budget(calls_left: int | None) -> str:
    """Today's model calls, shown once they run low (and hidden again the next day)."""
    low = calls_left is not None and calls_left <= budget_warning()
    return render_to_string(
        "chat/partials/budget.html", {"calls_left": calls_left if low else None}
    )


def budget_warning() -> int:
    return max(5, settings.MODEL_CALLS_PER_DAY // 10)


def notice(chat: str, text: str, *, until_reply: bool = False) -> str:
    """A note under the chat's box; `until_reply`: the page drops it once it can send again."""
    return _render("notice.html", chat=chat, text=text, until_reply=until_reply)


PANE_TEXTS = {
    Message.ChatType.MAIN: {
        "label": "Role-play, in German",
        "lang": "de",
        "placeholder": "Auf Deutsch schreiben …",
        "input_label": "Your message, in German",
    },
    Message.ChatType.HELPER: {
        "label": "間 Helper, in English",
        "lang": "en",
        "placeholder": "Ask about words, grammar, what to say…",
        "input_label": "Your question for the helper",
    },
}


def panes(conversation, live: dict) -> list[dict]:
    """Both chats as the page draws them: texts, messages, live slot, open or closed."""
    completed = conversation.session.is_completed
    return [
        {
            **PANE_TEXTS[chat],
            "chat": chat,
            "messages": conversation.on_page(chat),
            "earlier": earlier(
                conversation.session.pk,
                chat,
                conversation.on_page(chat),
                conversation.before_page(chat),
            ),
            "slot": slot_for(chat, conversation, live),
            "role": Message.replier(chat),
            "closed": completed and chat == Message.ChatType.MAIN,
        }
        for chat in CHATS
    ]


NOT_SENT = "Not sent yet: the page was still loading. Your message is back in the box: send it now."
NOT_SENT_CLOSED = "Not sent: the role-play is over. What you wrote:"


def put_back_unsent(panes: list[dict], chat, text) -> None:
    """A message the browser posted before the page's scripts ran goes back in its chat's box,
    with a note that it was not sent (or, in a chat closed meanwhile, into the note)."""
    if not isinstance(text, str) or not text.strip():
        return
    text = without_hidden_controls(text)  # as the socket would take it: they turn the page
    # Nor control characters (NUL, ESC), which the socket refuses: they came back raw in the
    # page's HTML (the attacker's replay).
    text = UNSENDABLE.sub("", text)
    for pane in panes:
        if pane["chat"] == chat:
            pane["unsent"] = text
            pane["note"] = NOT_SENT_CLOSED if pane["closed"] else NOT_SENT


def earlier(session_id, chat: str, shown: list, count: int) -> dict | None:
    """The `count` messages of the chat before those shown, with the address that shows them."""
    if not count:
        return None
    address = reverse("earlier_messages", args=[session_id, chat])
    return {
        "count": count,
        "next": min(count, ON_PAGE_AT_MOST),
        "url": f"{address}?before={shown[0].pk}",
    }


def page_progress(conversation) -> dict:
    session = conversation.session
    main = conversation.in_chat(Message.ChatType.MAIN)
    awaits = bool(main) and not main[-1].from_learner and not session.is_completed
    return progress(
        conversation.main_count,
        session.is_completed,
        awaits
        and prompting.awaits_the_last_word(
            conversation.main_count, main[-1].content, prompting.script_of(session.scenario)
        ),
    )


def sync(conversation, live: dict, week: WeeklyAllowance | None) -> str:
    """Everything the page shows, for a tab that (re)connects: lists, slots, buttons."""
    session = conversation.session
    return _render(
        "sync.html",
        panes=panes(conversation, live),
        character=character_of(session.scenario),
        progress=page_progress(conversation),
        completion=completion(session.pk, week) if session.is_completed else None,
        goals=conversation.goals,
        kept_ids=conversation.kept_ids,
        kept_phrases=conversation.kept_phrases,
    )


def character_of(scenario) -> str:
    """How the character is named beside their lines."""
    return scenario.character_name or scenario.title


def completion(session_id, week: WeeklyAllowance | None) -> dict:
    """What the end of a scene shows; `week` is the learner's, if known."""
    return {
        "week": week,
        "transcript_url": reverse("transcript", args=[session_id]),
        "report_url": reverse("report", args=[session_id]),
    }


def _failure_reason(error) -> str:
    reason = getattr(error, "reason", "")
    if reason in ("server_shutdown", "worker_stopped"):  # a restart, or a crash
        return INTERRUPTED
    if getattr(error, "timeout", False):
        return "The reply took too long."
    return "Something went wrong while replying."
