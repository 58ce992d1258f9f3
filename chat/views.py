from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse

from chat import frames
from chat.model import is_offline
from chat.turns import find_session, messages_of
from scenarios.lifecycle import restore_session
from scenarios.models import Session
from scenarios.views import JUST_STARTED


@login_required
def chat_page(request, session_id):
    """The dual chat of the learner's active session (404 for anyone else's)."""
    session = None
    if request.session.pop(JUST_STARTED, None) != str(session_id):
        try:  # coming back to an active session: logged as session_restored
            session = restore_session(request.user.pk, session_id)
        except Session.DoesNotExist:
            pass  # completed, or not theirs: handled below
    session = session or find_session(session_id)  # the request runs as this learner
    if session is None:
        raise Http404("No such session.")
    if session.is_completed:
        return redirect(reverse("transcript", args=[session.pk]))
    messages = messages_of(session_id)
    return render(
        request,
        "chat/session.html",
        {
            "session": session,
            "main_messages": [m for m in messages if m.chat_type == "main"],
            "helper_messages": [m for m in messages if m.chat_type == "helper"],
            "progress": frames.progress(session.message_count_main),
            "offline": is_offline(),
            "max_length": settings.CHAT_MESSAGE_MAX_LENGTH,
        },
    )
