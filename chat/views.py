from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods

from accounts import levels
from accounts.logins import page_owner
from accounts.models import GermanLevel
from chat import allowance, conversations, frames, reports, tasks
from chat.models import Message
from chat.providers import is_offline
from learning import deck
from lib.ids import parse_uuid
from scenarios import lifecycle
from scenarios.lifecycle import ActiveSessionExists, WeeklyLimitReached
from scenarios.models import Scenario, Session

# Marks the session a learner has just started, so opening it is not logged as a restore.
JUST_STARTED = "just_started_session"


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def start_scenario(request: HttpRequest, code: str) -> HttpResponse:
    """POST starts the scene. This address also answers with the page asking to end the
    learner's current conversation: opened again (Back, a reload, a copied link) it asks again,
    or sends to the picker (it was a blank 405: a newcomer's walk). A GET starts nothing."""
    scenario = get_object_or_404(Scenario, code=code, is_active=True)
    if request.method != "POST":
        active = lifecycle.active_session(request.user.pk)
        if active is None:
            return redirect("home")
        level = request.GET.get("level")
        context = {"scenario": scenario, "active": active}
        context["level"] = level if level in GermanLevel.values else None
        return render(request, "chat/confirm_replace.html", context)
    replacing = parse_uuid(request.POST.get("replacing", ""))  # the session it agreed to end
    level = request.POST.get("level") or None
    if level is not None and level not in GermanLevel.values:
        return HttpResponseBadRequest("Unknown level: choose A1, A2 or B1.")
    previous_level = levels.level_of(request.user.pk)
    try:
        session = conversations.start(request.user.pk, scenario, replacing=replacing, level=level)
    except WeeklyLimitReached:
        # From a page drawn before the week's last scene ended, say: the picker tells when
        # the week resets, this why nothing started (it said nothing: a newcomer's walk).
        messages.error(
            request, f"{scenario.title} did not start: you've had this week's conversations."
        )
        return redirect("home")
    except ActiveSessionExists:
        # Asked on a page of its own: as the POST's answer, a reload asked to send the form
        # again (a newcomer's walk).
        query = f"?{urlencode({'level': level})}" if level else ""
        return redirect(reverse("start_scenario", args=[code]) + query)
    if level is not None and level != previous_level:
        messages.info(
            request, f"Your level is now {GermanLevel(level).label}, for this scene and the next."
        )
    request.session[JUST_STARTED] = str(session.pk)
    return redirect("session", session_id=session.pk)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def chat_page(request: HttpRequest, session_id: UUID) -> HttpResponse:
    """The dual chat of one of the learner's sessions (404 for anyone else's). A completed
    session keeps its helper open, for questions about the scene.

    Its forms go over the socket. A POST is one the browser sent itself, pressed before the
    page's scripts ran: nothing is sent, and a message comes back in its box to send."""
    if request.method == "POST" and request.POST.get("action") == "retry":
        return redirect("session", session_id=session_id)  # the page offers "Try again" again
    just_started = request.session.pop(JUST_STARTED, None) == str(session_id)
    if not just_started:
        try:  # coming back to an active session: logged as session_restored
            lifecycle.restore_session(request.user.pk, session_id)
        except Session.DoesNotExist:
            pass  # completed, or not theirs: handled below
    shown = conversations.load(request.user.pk, session_id)
    if shown is None:
        return _not_found(request, session_id)
    session = shown.session
    completion = None
    if session.is_completed:
        completion = frames.completion(session.pk, lifecycle.weekly_allowance(request.user.pk))
        # The report as it stands, on the page: it said "being written" for a report written
        # long ago until its first check (and for ever without scripts: a newcomer's walk).
        completion["report"] = tasks.report_of(request.user.pk, session.pk)
        completion["kept"] = _kept_from(request.user.pk, completion["report"])
    panes = frames.panes(shown, live={})
    if request.method == "POST":
        frames.put_back_unsent(panes, request.POST.get("chat"), request.POST.get("message"))
    return render(
        request,
        "chat/session.html",
        {
            "session": session,
            "page_owner": page_owner(request.user),
            "character": frames.character_of(session.scenario),
            "panes": panes,
            "goals": shown.goals,
            "kept_ids": shown.kept_ids,
            "kept_phrases": shown.kept_phrases,
            "progress": frames.page_progress(shown),
            "completion": completion,
            "calls_left": _calls_left_if_low(request.user),
            "offline": is_offline(),
            "max_length": settings.CHAT_MESSAGE_MAX_LENGTH,
            # The learner came to talk (Start, Continue, a reload): the focus waits in the
            # role-play's box; arriving by Continue it stayed on the page (the last note).
            "focus_main_box": not session.is_completed,
            # A phone shows one chat: the helper's greeting, with the first tip, sat unseen
            # behind its tab (a newcomer's walk). Its tab says "new" until it is asked.
            "helper_unread": not any(
                message.from_learner for message in shown.in_chat(Message.ChatType.HELPER)
            ),
        },
    )


def _not_found(request: HttpRequest, session_id: UUID) -> HttpResponse:
    """A session the learner cannot open: "ended and deleted" (410) if they did that, as the
    log says while it keeps the event, else not found, as for anyone else's."""
    if lifecycle.was_ended_and_deleted(request.user.pk, session_id):
        return render(request, "chat/deleted.html", status=410)
    raise Http404("No such session.")


@login_required
@require_GET
def earlier_messages(request: HttpRequest, session_id: UUID, chat: str) -> HttpResponse:
    """A chat's messages before one the page shows, for its "Show earlier" (404 for anyone
    else's session or a message not in that chat)."""
    before = parse_uuid(request.GET.get("before", ""))
    if before is None:
        return HttpResponseBadRequest("Say which message to show the ones before (?before=id).")
    if chat not in Message.ChatType.values:
        raise Http404("No such chat.")
    found = conversations.earlier_messages(request.user.pk, session_id, chat, before)
    if found is None:
        raise Http404("No such message in this session's chat.")
    context = {
        "messages": found.messages,
        "earlier": frames.earlier(session_id, chat, found.messages, found.earlier),
        "character": frames.character_of(found.session.scenario),
        "kept_ids": found.kept_ids,
        "kept_phrases": found.kept_phrases,
    }
    return render(request, "chat/partials/earlier_messages.html", context)


@login_required
@require_GET
def line_words(request: HttpRequest, session_id: UUID, message_id: UUID) -> HttpResponse:
    """The words of a role-play line, each to keep on its own: its "Keep words" (404 for
    anyone else's session or a message not in its role-play)."""
    found = conversations.words_of_line(request.user.pk, session_id, message_id)
    if found is None:
        raise Http404("No such line in this session's role-play.")
    return render(request, "chat/partials/line_words.html", {"found": found})


@login_required
@require_GET
def transcript(request: HttpRequest, session_id: UUID) -> HttpResponse:
    """A completed session, both chats, read-only (an active one opens its chat instead)."""
    shown = conversations.load(request.user.pk, session_id, replies=False)
    if shown is None:
        return _not_found(request, session_id)
    if not shown.session.is_completed:
        return redirect("session", session_id=session_id)
    found = tasks.report_of(request.user.pk, session_id)
    context = {
        "report": found,
        "kept": _kept_from(request.user.pk, found),
        "session": shown.session,
        "character": frames.character_of(shown.session.scenario),
        "goals": shown.goals,
        "read_only": True,
        "kept_ids": shown.kept_ids,
        "kept_phrases": shown.kept_phrases,
        "main_messages": shown.in_chat(Message.ChatType.MAIN),
        "helper_messages": shown.in_chat(Message.ChatType.HELPER),
    }
    if request.resolver_match.url_name == "transcript_export":
        response = render(
            request, "chat/transcript.md", context, content_type="text/markdown; charset=utf-8"
        )
        name = f"maraum-{shown.session.scenario.code}-{shown.session.completed_at:%Y-%m-%d}.md"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    return render(request, "chat/transcript.html", context)


@login_required
@require_GET
def report(request: HttpRequest, session_id: UUID) -> HttpResponse:
    """The report on one of the learner's completed sessions, as the completion panel and the
    transcript show it (a pending one asks again in a few seconds)."""
    found = tasks.report_of(request.user.pk, session_id)
    if found is None:
        raise Http404("No report for this session.")
    if request.headers.get("Sec-Fetch-Dest") == "document":
        # Opened as a page, it was the bare section the chat page swaps in (a newcomer's
        # walk): the scene's history page shows it whole.
        return redirect(reverse("transcript", args=[session_id]) + "#report")
    context = {"report": found, "kept": _kept_from(request.user.pk, found)}
    return render(request, "chat/partials/report.html", context)


def _kept_from(learner_id, report) -> set[str]:
    """The report's words the learner's deck holds already (they show as kept)."""
    words = reports.words_to_keep(report.content) if report else []
    return deck.kept_of(learner_id, [word["german"] for word in words])


def _calls_left_if_low(user) -> int | None:
    left = allowance.calls_left(user.email)
    return left if left <= frames.budget_warning() else None
