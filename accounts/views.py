from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.validators import slug_re
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from accounts import levels, logins, throttles
from accounts.deletion import (
    KEEPS_ADMIN_HISTORY,
    KeepsAdminHistory,
    delete_account,
    keeps_admin_history,
)
from accounts.forms import (
    ChangePasswordForm,
    DeleteAccountForm,
    LevelForm,
    LoginForm,
    ResetPasswordForm,
    SetNewPasswordForm,
    SignUpForm,
)
from accounts.models import GermanLevel, Profile, User
from eventlog.events import Event, Level, log_event
from lib.redirects import page_on_this_site
from lib.rls import with_auth_role
from lib.throttles import take_all

# The message shown after a log-out or an account's deletion carries one of these tags: its
# page forgets the drafts the chat keeps, in every tab, and they say why (templates/base.html,
# static/js/drafts.js).
FORGET_DRAFTS = "forget-drafts"
FORGET_DRAFTS_OF_DELETED = "forget-drafts account-deleted"
# Set for a day by deleting an account: another tab of it reloaded came to a bare login page,
# which did not say that the account was gone (a newcomer's walk). It names no one.
ACCOUNT_DELETED_COOKIE = "maraum_account_deleted"
# Likewise for a log-out: another tab reloaded said only "Log in to see that page" (the log-out
# deleted the session cookie: a newcomer's walk).
LOGGED_OUT_COOKIE = "maraum_logged_out"


def _say_how_it_ended(response: HttpResponse, cookie: str) -> None:
    """For a day, the login page of this browser says the login ended here, and how."""
    response.set_cookie(
        cookie,
        "1",
        max_age=24 * 3600,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def _forget_how_it_ended(response: HttpResponse) -> None:
    """Once someone logs in or signs up here, it is not said again."""
    response.delete_cookie(ACCOUNT_DELETED_COOKIE)
    response.delete_cookie(LOGGED_OUT_COOKIE)


@with_auth_role
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignUpForm(_posted(request))
    scene = _chosen_scene(request)
    if request.method == "POST":
        # Throttled before the form hashes the password (Argon2 is the expensive part): each
        # attempt by address, and by email once nothing but the email can be wrong with it
        # (three tries an hour, typos included, locked a newcomer's email out: the newcomer's
        # walk; and three forms with a wrong level, anyone's: the attacker's recheck).
        refusal = _signup_refusal(throttles.SIGNUP_PER_ADDRESS, logins.client_address(request))
        if refusal is None:
            valid = form.is_valid()
            if valid or set(form.errors) == {"email"}:
                refusal = _signup_refusal(throttles.SIGNUP_PER_EMAIL, request.POST.get("email", ""))
            if refusal is not None:
                valid = False
        if refusal is not None:
            form.add_error(None, refusal)
        elif valid:
            user = form.save(commit=False)
            if User.objects.insert_if_email_is_new(user):
                levels.set_level(user.pk, form.cleaned_data["level"] or GermanLevel.A1)
                log_event(Event.USER_REGISTERED, user_id=user.pk)
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                # No "Pick a scene" here: a week used up by a deleted account with this email
                # greys every Start, and the picker says so (a newcomer's walk).
                messages.success(request, "Welcome to Maraum!")
                # The picker opens at the scene the visitor clicked on the landing page.
                response = redirect(reverse("home") + (f"#scene-{scene}" if scene else ""))
                _forget_how_it_ended(response)
                return response
            form.add_error("email", form.email_in_use())
    return render(request, "accounts/signup.html", {"form": form, "scene": scene})


def _signup_refusal(throttle, key: str) -> str | None:
    verdict, _ = take_all([(throttle, (key,))])
    if verdict.allowed:
        return None
    _log_throttled(throttle, verdict)
    whose = "from your network" if throttle is throttles.SIGNUP_PER_ADDRESS else "for this email"
    return f"Too many sign-ups {whose} right now. Please try again in {verdict.wait_label}."


def _posted(request: HttpRequest):
    """A form's data: bound on every POST, an empty one too (`request.POST or None` left an
    empty POST's form unbound, and a sign-up refused by its throttle then was a 500: the
    recheck replay)."""
    return request.POST if request.method == "POST" else None


def _chosen_scene(request: HttpRequest) -> str:
    """The code of the scene a visitor clicked on the landing page, if it looks like one."""
    scene = request.POST.get("scene") or request.GET.get("scene") or ""
    return scene if len(scene) <= 50 and slug_re.match(scene) else ""


@with_auth_role
def login_view(request: HttpRequest) -> HttpResponse:
    """The one login, for learners and staff (/admin/login/ comes here)."""
    asked_for = request.POST.get("next") or request.GET.get("next") or ""
    next_url = page_on_this_site(request, asked_for) or ""
    if request.user.is_authenticated:
        return redirect(next_url or "home")
    form = LoginForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        email, password = form.cleaned_data["email"], form.cleaned_data["password"]
        attempt = logins.attempt_login(request, email, password)
        if attempt.user is not None:
            login(request, attempt.user)
            response = redirect(next_url or "home")
            logins.remember_device(response, attempt.user, request)
            _forget_how_it_ended(response)
            return response
        form.refuse(attempt.refused or "That email and password do not match an account.")
    why = _why_log_in(request, next_url) if request.method == "GET" else ""
    return render(request, "accounts/login.html", {"form": form, "next": next_url, "why": why})


def _why_log_in(request: HttpRequest, next_url: str) -> str:
    """What the login page says of why it is shown: a login that ended where this browser did
    not end it (its session cookie outlived the session), an account deleted here or a log-out
    here were sent to a bare form (newcomers' walks)."""
    if request.COOKIES.get(ACCOUNT_DELETED_COOKIE):
        return (
            "The account this browser was logged in to has been deleted, with everything in it."
            " To practise again, sign up."
        )
    if request.COOKIES.get(LOGGED_OUT_COOKIE):  # no login since: none ended elsewhere
        return (
            "You logged out in this browser (in this tab or another). Log in again to see that"
            " page."
            if next_url
            else ""
        )
    if settings.SESSION_COOKIE_NAME in request.COOKIES:
        return (
            "Your login has ended: the password was changed, the account was closed, or you "
            "were logged out from elsewhere. Log in again to go on."
        )
    return "Log in to see that page." if next_url else ""


def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin's own login form is not used: one login path, one throttle. A learner who is
    logged in already is told the pages are for staff (the login page would send them straight
    back here, and round again)."""
    if request.user.is_authenticated and not request.user.is_staff:
        return render(request, "accounts/not_staff.html", status=403)
    next_url = request.GET.get("next") or reverse("admin:index")
    return redirect(f"{reverse('login')}?{urlencode({'next': next_url})}")


@require_POST
@with_auth_role
def logout_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        log_event(Event.USER_LOGOUT, user_id=request.user.pk)
    logout(request)
    messages.info(request, "You are logged out. Bis bald!", extra_tags=FORGET_DRAFTS)
    response = redirect("home")
    _say_how_it_ended(response, LOGGED_OUT_COOKIE)
    return response


@method_decorator(with_auth_role, name="dispatch")
class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset, throttled per address and per email; the page says the same whether or
    not the address has an account."""

    template_name = "accounts/password_reset_form.html"
    form_class = ResetPasswordForm
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")

    def form_valid(self, form):
        email = form.cleaned_data["email"]
        verdict, throttle = take_all(
            [
                (throttles.RESET_PER_ADDRESS, (logins.client_address(self.request),)),
                (throttles.RESET_PER_EMAIL, (logins.account_identity(email),)),
            ]
        )
        if not verdict.allowed:
            _log_throttled(throttle, verdict)
            form.add_error(
                None,
                f"Too many reset emails asked for. Please try again in {verdict.wait_label}.",
            )
            return self.form_invalid(form)
        user_id = User.objects.filter(email=email).values_list("pk", flat=True).first()
        log_event(Event.PASSWORD_RESET_REQUESTED, user_id=user_id)
        return super().form_valid(form)


@method_decorator(with_auth_role, name="dispatch")
class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    form_class = SetNewPasswordForm
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        logins.unlock_account(form.user)  # a reset forgives the failed attempts
        log_event(Event.PASSWORD_RESET_COMPLETED, user_id=form.user.pk)
        return response


@login_required
def account(request: HttpRequest) -> HttpResponse:
    profile = Profile.objects.get(pk=request.user.pk)
    form = LevelForm(_posted(request), initial={"level": profile.level})
    if request.method == "POST" and form.is_valid():
        levels.set_level(request.user.pk, form.cleaned_data["level"])
        messages.success(
            request, f"Your level is now {GermanLevel(form.cleaned_data['level']).label}."
        )
        return redirect("account")
    return render(request, "accounts/account.html", {"profile": profile, "level_form": form})


@login_required
@with_auth_role
def change_password(request: HttpRequest) -> HttpResponse:
    """A new password: this login goes on (its tabs connect again), every other one ends."""
    form = ChangePasswordForm(request, _posted(request))
    if request.method != "POST":
        return render(request, "accounts/change_password.html", {"form": form})
    # One change at a time, checked against the password as it is now: two tabs changing it
    # at once both succeeded, and which login held was a race (the attacker's recheck). The
    # chat sockets are told once this login holds the new password (on commit).
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=request.user.pk).exists()
        request.user.refresh_from_db(fields=["password"])
        if not form.is_valid():
            return render(request, "accounts/change_password.html", {"form": form})
        user = form.save()
        update_session_auth_hash(request, user)
        request.session.save()
    log_event(Event.PASSWORD_CHANGED, user_id=user.pk)
    messages.success(request, "Your password is changed. You are logged out everywhere else.")
    return redirect("account")


@login_required
@with_auth_role
def delete_account_view(request: HttpRequest) -> HttpResponse:
    form = DeleteAccountForm(request, _posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            delete_account(request.user)
        except KeepsAdminHistory as kept:  # a change made in the admin meanwhile
            form.add_error(None, str(kept))
        else:
            logout(request)
            messages.info(
                request,
                "Your account and everything in it has been deleted.",
                extra_tags=FORGET_DRAFTS_OF_DELETED,
            )
            response = redirect("home")
            _say_how_it_ended(response, ACCOUNT_DELETED_COOKIE)
            return response
    # Said before the password is asked for (it was said only after: the attacker's recheck).
    kept = keeps_admin_history(request.user) and KEEPS_ADMIN_HISTORY
    return render(request, "accounts/delete_account.html", {"form": form, "kept": kept})


def _log_throttled(throttle, verdict) -> None:
    if verdict.first_refusal:  # once per refill period, not once per refused request
        log_event(
            Event.RATE_LIMIT_EXCEEDED,
            level=Level.WARN,
            throttle=throttle.name,
            retry_after_s=round(verdict.retry_after),
        )
