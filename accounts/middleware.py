from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.db import transaction
from django.http import Http404
from django.shortcuts import resolve_url
from django.utils.cache import patch_cache_control
from django_htmx.http import HttpResponseClientRedirect

from lib.rls import acting_as_auth, acting_as_learner, acting_as_staff


class AccountsRoleMiddleware:
    """Runs every request in one transaction, as maraum_auth at first: the session and the
    logged-in user load (and the session saves) with the privileges for sessions and accounts,
    which learner requests themselves do not have. Goes before SessionMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with acting_as_auth():
            return self.get_response(request)


class RowLevelSecurityMiddleware:
    """Runs the view as the learner making the request (or staff, in the admin).

    Staff get the all-rows role only inside the admin; anywhere else a staff member is a learner
    like any other. Anonymous requests run as a learner with no id, so they see no learner rows.
    Views of the account flows switch to maraum_auth themselves (`lib.rls.with_auth_role`).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if request.path.startswith("/admin/") and user.is_active and user.is_staff:
            context = acting_as_staff(savepoint=False)
        else:
            learner_id = user.pk if user.is_authenticated else None
            context = acting_as_learner(learner_id, savepoint=False)
        with context:
            return self.get_response(request)

    def process_exception(self, request, exception):
        # Django turns a view's exception into a response before it reaches __call__: without
        # this, the request's transaction would commit what a failing view half did. (A 404 or
        # 403 is an answer, not a failure; a 5xx response saves no session either.)
        if not isinstance(exception, CLIENT_ERRORS):
            transaction.set_rollback(True)


CLIENT_ERRORS = (Http404, PermissionDenied, BadRequest, SuspiciousOperation)


class PrivatePagesMiddleware:
    """A page shown to a logged-in learner holds their conversations, history or account: no
    shared cache and no browser cache may keep it (Cache-Control: private, no-store)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.user.is_authenticated:
            patch_cache_control(response, private=True, no_store=True)
        return response


class HtmxLoginRedirectMiddleware:
    """A part of a page asked for once its login has ended sends the whole page to log in, and
    back to the page after: htmx followed the log-in redirect itself and drew the login page
    inside the chat, in place of "Show earlier" (the attacker's replay)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.htmx or response.status_code != 302:
            return response
        if urlsplit(response["Location"]).path != resolve_url(settings.LOGIN_URL):
            return response
        return HttpResponseClientRedirect(
            redirect_to_login(request.htmx.current_url_abs_path or "/").url
        )
