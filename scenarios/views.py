from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.models import Profile
from chat.models import Message
from scenarios import lifecycle
from scenarios.history import BadCursor, history_page
from scenarios.lifecycle import ActiveSessionExists, WeeklyLimitReached
from scenarios.models import Scenario, Session

# Set by start_scenario so the first visit of a new session is not logged as a restore.
# Marks the session a learner has just started, so opening it is not logged as a restore.
JUST_STARTED = "just_started_session"


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        scenarios = Scenario.objects.filter(is_active=True)
        return render(request, "scenarios/landing.html", {"scenarios": scenarios})
    profile = Profile.objects.get(pk=request.user.pk)
    context = {
        "scenarios": Scenario.objects.filter(is_active=True),
        "allowance": lifecycle.weekly_allowance(profile),
        "active": lifecycle.active_session(request.user.pk),
    }
    return render(request, "scenarios/picker.html", context)


@login_required
@require_POST
def start_scenario(request: HttpRequest, code: str) -> HttpResponse:
    scenario = get_object_or_404(Scenario, code=code, is_active=True)
    replace_active = request.POST.get("replace_active") == "yes"
    try:
        session = lifecycle.start_session(request.user.pk, scenario, replace_active=replace_active)
    except WeeklyLimitReached as refused:
        messages.error(
            request,
            "You've had this week's 3 conversations. A new week starts on "
            f"{refused.reset_at:%A %-d %B, %H:%M} UTC.",
        )
        return redirect("home")
    except ActiveSessionExists as asked:
        context = {"scenario": scenario, "active": asked.session}
        return render(request, "scenarios/confirm_replace.html", context)
    request.session[JUST_STARTED] = str(session.pk)
    return redirect("session", session_id=session.pk)


@login_required
@require_POST
def abandon(request: HttpRequest, session_id: UUID) -> HttpResponse:
    if not lifecycle.abandon_session(request.user.pk, session_id):
        raise Http404("No active session with this id")
    messages.info(request, "That conversation has been ended and deleted.")
    return redirect("home")


@login_required
@require_GET
def history(request: HttpRequest) -> HttpResponse:
    scenarios = list(Scenario.objects.all())
    code = request.GET.get("scenario") or ""
    chosen = next((s for s in scenarios if s.code == code), None)
    if code and chosen is None:
        raise Http404("Unknown scenario")
    try:
        page = history_page(
            request.user.pk,
            scenario_id=chosen.pk if chosen else None,
            cursor=request.GET.get("cursor"),
        )
    except BadCursor:
        return HttpResponseBadRequest("This history link is broken. Go back to your history.")
    by_id = {s.pk: s for s in scenarios}
    for session in page.sessions:
        session.scenario = by_id[session.scenario_id]
    context = {"page": page, "scenarios": scenarios, "chosen": chosen}
    if request.headers.get("HX-Request") and request.GET.get("cursor"):
        return render(request, "scenarios/partials/history_rows.html", context)
    return render(request, "scenarios/history.html", context)


@login_required
@require_GET
def transcript(request: HttpRequest, session_id: UUID) -> HttpResponse:
    session = _own_session(request, session_id)
    if not session.is_completed:
        return redirect("session", session_id=session.pk)
    main, helper = _messages_by_chat(session)
    context = {"session": session, "main_messages": main, "helper_messages": helper}
    return render(request, "scenarios/transcript.html", context)


def _own_session(request: HttpRequest, session_id: UUID) -> Session:
    # Row-level security hides other learners' sessions; the user filter says so explicitly.
    return get_object_or_404(
        Session.objects.select_related("scenario"), pk=session_id, user_id=request.user.pk
    )


def _messages_by_chat(session: Session) -> tuple[list[Message], list[Message]]:
    rows = list(Message.objects.filter(session=session).order_by("sent_at", "id"))
    main = [m for m in rows if m.chat_type == Message.ChatType.MAIN]
    helper = [m for m in rows if m.chat_type == Message.ChatType.HELPER]
    return main, helper
