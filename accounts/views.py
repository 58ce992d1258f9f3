from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts import login_throttle
from accounts.deletion import delete_account
from accounts.forms import DeleteAccountForm, LoginForm, SignUpForm
from accounts.models import Profile, User
from eventlog.events import log_event
from eventlog.models import Event


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        log_event(Event.USER_REGISTERED, user_id=user.pk)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, "Welcome to Maraum! Pick a scene to start practising.")
        return redirect("home")
    return render(request, "accounts/signup.html", {"form": form})


def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = LoginForm(request.POST or None)
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if request.method == "POST" and form.is_valid():
        email, password = form.cleaned_data["email"], form.cleaned_data["password"]
        address = request.META.get("REMOTE_ADDR", "")
        if until := login_throttle.locked_until(email, address):
            _log_failed_login(email, reason="throttled")
            form.add_error(
                None,
                "Too many failed attempts. For your safety, logging in is paused until "
                f"{until:%H:%M} UTC. You can also reset your password.",
            )
        elif user := authenticate(request, username=email, password=password):
            login_throttle.clear_account(email)
            login(request, user)
            log_event(Event.USER_LOGIN_SUCCESS, user_id=user.pk)
            if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}):
                next_url = ""
            return redirect(next_url or "home")
        else:
            login_throttle.record_failure(email, address)
            _log_failed_login(email, reason="bad_credentials")
            form.add_error(None, "That email and password do not match an account.")
    return render(request, "accounts/login.html", {"form": form, "next": next_url})


def _log_failed_login(email: str, *, reason: str) -> None:
    # The user id only if the account exists; never the email that was typed.
    user_id = User.objects.filter(email=email).values_list("pk", flat=True).first()
    log_event(Event.USER_LOGIN_FAILED, level="warn", user_id=user_id, reason=reason)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        log_event(Event.USER_LOGOUT, user_id=request.user.pk)
    logout(request)
    messages.info(request, "You are logged out. Bis bald!")
    return redirect("home")


@login_required
def account(request: HttpRequest) -> HttpResponse:
    profile = Profile.objects.get(pk=request.user.pk)
    return render(request, "accounts/account.html", {"profile": profile})


@login_required
def delete_account_view(request: HttpRequest) -> HttpResponse:
    form = DeleteAccountForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        delete_account(request.user)
        logout(request)
        messages.info(request, "Your account and everything in it has been deleted.")
        return redirect("home")
    return render(request, "accounts/delete_account.html", {"form": form})
