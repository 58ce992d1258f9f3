from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from accounts import levels
from accounts.models import GermanLevel
from scenarios import lifecycle
from scenarios.history import BadCursor, history_page
from scenarios.models import Scenario, Session


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    scenarios = Scenario.objects.filter(is_active=True)
    if not request.user.is_authenticated:
        return render(request, "scenarios/landing.html", {"scenarios": scenarios})
    context = {
        "scenarios": scenarios.prefetch_related("goals"),
        "level": levels.level_of(request.user.pk),
        "levels": GermanLevel.choices,
        "allowance": lifecycle.weekly_allowance(request.user.pk),
        "active": lifecycle.active_session(request.user.pk),
    }
    return render(request, "scenarios/picker.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def abandon(request: HttpRequest, session_id: UUID) -> HttpResponse:
    """GET asks first (the messages go for good); POST ends and deletes the active session."""
    if request.method == "GET":
        active = lifecycle.active_session(request.user.pk)
        if active is not None and active.pk == session_id:
            return render(request, "scenarios/confirm_abandon.html", {"active": active})
    elif lifecycle.abandon_session(request.user.pk, session_id):
        messages.info(request, "That conversation has been ended and deleted.")
        return redirect("home")
    if lifecycle.find_session(request.user.pk, session_id) is None:
        # Confirmed twice, or in two tabs: the second said "We couldn't find that page".
        if lifecycle.was_ended_and_deleted(request.user.pk, session_id):
            messages.info(request, "That conversation has been ended and deleted.")
            return redirect("home")
        raise Http404("No active session with this id")
    # Finished meanwhile: "End scene…" was asked, or confirmed, before the last reply came
    # (the confirmation was a 404: the attacker's recheck).
    messages.info(request, "That scene is finished: it stays in your history.")
    return redirect("session", session_id)


@login_required
@require_GET
def history(request: HttpRequest) -> HttpResponse:
    # The scenes a learner can play or has played: not staff's drafts (a newcomer's walk).
    played = Session.objects.of(request.user.pk).completed().values("scenario_id")
    scenarios = list(Scenario.objects.filter(Q(is_active=True) | Q(pk__in=played)))
    code = request.GET.get("scenario") or ""
    chosen = next((s for s in scenarios if s.code == code), None)
    if code and chosen is None:  # a scene gone since the link was made: the whole history
        messages.info(request, "That scene is not in your history: here are all your scenes.")
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
    if not page.sessions and not chosen:  # nothing finished yet: perhaps a scene is going on
        context["active"] = lifecycle.active_session(request.user.pk)
    if request.htmx and request.GET.get("cursor"):
        return render(request, "scenarios/partials/history_rows.html", context)
    return render(request, "scenarios/history.html", context)
