"""The HTML frames the websocket sends: htmx out-of-band swaps into the chat page."""

from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import escape

from chat.turns import HARD_CAP, SOFT_CAP


def _render(template: str, **context) -> str:
    return render_to_string(f"chat/frames/{template}", context)


def role_for(chat: str) -> str:
    return "scenario" if chat == "main" else "helper"


def learner_message(message) -> str:
    return _render("learner_message.html", message=message, chat=message.chat_type)


def reply_started(reply) -> str:
    return _render("reply_started.html", reply=reply, role=role_for(reply.chat))


def reply_delta(reply, text: str) -> str:
    # The hot path (up to 20 frames a second per reply): formatted directly, escaped.
    return f'<span hx-swap-oob="beforeend:#reply-{reply.reply_id}-text">{escape(text)}</span>'


def reply_finished(reply, stored) -> str:
    return _render(
        "reply_finished.html",
        reply=reply,
        message=stored.message,
        stored=stored,
        progress=progress(stored.main_count),
        transcript_url=(
            reverse("transcript", args=[reply.session_id]) if stored.completed else None
        ),
    )


def reply_failed(reply, error) -> str:
    timeout = getattr(error, "timeout", False)
    return _render("reply_failed.html", reply=reply, role=role_for(reply.chat), timeout=timeout)


def notice(chat: str, text: str) -> str:
    return _render("notice.html", chat=chat, text=text)


def sync(messages, live) -> str:
    """Everything the page shows, for a tab that (re)connects: lists, live replies, buttons."""
    streaming = {reply.chat for reply in live}
    return _render(
        "sync.html",
        main=[m for m in messages if m.chat_type == "main"],
        helper=[m for m in messages if m.chat_type == "helper"],
        live=live,
        main_busy="main" in streaming,
        helper_busy="helper" in streaming,
        progress=progress(sum(1 for m in messages if m.chat_type == "main")),
    )


def progress(main_count: int) -> dict:
    return {
        "count": main_count,
        "cap": HARD_CAP,
        "soft": SOFT_CAP,
        "percent": min(100, round(100 * main_count / HARD_CAP)),
    }
