"""Logging in: the one path for /login/ and /admin/login/, and its throttles.

Following OWASP ASVS (V2.2) and its "device cookie" pattern:
- a failed attempt costs a token of the account's bucket and of the client address's bucket
  (LOGIN_ATTEMPTS_PER_ACCOUNT, _PER_ADDRESS); a success costs nothing. The buckets refill
  continuously, so an attacker is slowed to a few guesses an hour while nobody is locked out
  for long, and learners behind one school address do not lock each other out;
- a browser that has logged in to an account before carries a signed device cookie, and its
  attempts spend a bucket of their own (LOGIN_ATTEMPTS_PER_DEVICE), so someone guessing from
  elsewhere cannot lock the learner out on their own device;
- a successful password reset fills the account's bucket again;
- a password asked for again (to change it, or to delete the account) spends the same buckets;
- every failure and every throttled attempt is logged (`user_login_failed`, without email).
"""

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.sessions.models import Session as Login
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts import throttles
from accounts.models import User
from eventlog.events import Event, Level, log_event
from lib.rls import acting_as_auth
from lib.throttles import take_all

DEVICE_COOKIE = "maraum_device"
_DEVICE_SALT = "maraum.login-device"


@dataclass(frozen=True)
class LoginAttempt:
    user: User | None
    refused: str = ""  # why the attempt was not even checked (a throttle), for the learner


def page_owner(user: User) -> str:
    """Who a page was drawn for, as the page can carry it (its websocket's address): an
    opaque tag of the account, which names no one and cannot be made up for another."""
    return salted_hmac("maraum.page-owner", str(user.pk)).hexdigest()[:20]


def is_page_owner(user: User, tag: str) -> bool:
    return constant_time_compare(page_owner(user), tag)


def client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "")


def account_identity(email: str) -> str:
    """What an account's throttles count by: its id when the account exists (the database
    decides which account an email means: citext, where 'İ' matches 'i' though Python's
    casefold disagrees), else the email as typed, case-folded."""
    user_id = User.objects.filter(email=email).values_list("pk", flat=True).first()
    return str(user_id) if user_id else email.strip().casefold()


def attempt_login(request: HttpRequest, email: str, password: str) -> LoginAttempt:
    """Check the password unless a throttle refuses; the user on success."""
    account_id = account_identity(email)
    buckets = _login_buckets(request, account_id)
    verdict, throttle = take_all(buckets)
    if not verdict.allowed:
        _log_failure(account_id, "throttled", throttle=throttle.name)
        if throttle is throttles.LOGIN_PER_ADDRESS:
            return LoginAttempt(
                None,
                "Too many failed logins from your network. Please try again in "
                f"{verdict.wait_label}.",
            )
        return LoginAttempt(
            None,
            "Too many failed attempts for this account. Please try again in "
            f"{verdict.wait_label}, or reset your password: a reset unlocks it at once.",
        )
    user = authenticate(request, username=email, password=password)
    if user is None:
        _log_failure(account_id, "bad_credentials")
        return LoginAttempt(None)
    for throttle, parts in buckets:  # a success does not count against anyone
        throttle.give_back(*parts)
    log_event(Event.USER_LOGIN_SUCCESS, user_id=user.pk, staff=user.is_staff)
    return LoginAttempt(user)


def check_password_again(request: HttpRequest, user: User, password: str) -> str:
    """A logged-in learner's password, asked for again to change it or to delete the account:
    "" when it is right, else what to tell them. It spends the same buckets as a login, so a
    borrowed session cannot guess the password any faster than the login page can."""
    account_id = str(user.pk)
    buckets = _login_buckets(request, account_id)
    verdict, throttle = take_all(buckets)
    if not verdict.allowed:
        _log_failure(account_id, "throttled", throttle=throttle.name, asked_again=True)
        return f"Too many wrong passwords. Please try again in {verdict.wait_label}."
    if not user.check_password(password):
        _log_failure(account_id, "bad_credentials", asked_again=True)
        return "That is not your password."
    for throttle, parts in buckets:
        throttle.give_back(*parts)
    return ""


def _login_buckets(request: HttpRequest, account_id: str) -> list:
    """What a password attempt spends: the account's bucket (this device's own, when the
    browser has logged in to the account before) and the client address's."""
    device = _device_of(request, account_id)
    if device:
        account = (throttles.LOGIN_PER_DEVICE, (account_id, device))
    else:
        account = (throttles.LOGIN_PER_ACCOUNT, (account_id,))
    return [account, (throttles.LOGIN_PER_ADDRESS, (client_address(request),))]


def remember_device(response: HttpResponse, user: User, request: HttpRequest) -> None:
    """After a successful login: this browser gets (or keeps) its device cookie."""
    account_id = str(user.pk)
    device = _device_of(request, account_id) or secrets.token_urlsafe(16)
    key = throttles.LOGIN_PER_ACCOUNT.key(account_id)
    response.set_cookie(
        DEVICE_COOKIE,
        signing.dumps([key, device], salt=_DEVICE_SALT),
        max_age=365 * 24 * 3600,
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )


def unlock_account(user: User) -> None:
    """A successful password reset: the account's failed attempts are forgiven."""
    throttles.LOGIN_PER_ACCOUNT.fill(str(user.pk))


def _device_of(request: HttpRequest, account_id: str) -> str | None:
    """The device id in a valid device cookie of this account, if any."""
    try:
        account, device = signing.loads(
            request.COOKIES.get(DEVICE_COOKIE, ""), salt=_DEVICE_SALT, max_age=365 * 24 * 3600
        )
    except (signing.BadSignature, ValueError, TypeError):
        return None
    return device if account == throttles.LOGIN_PER_ACCOUNT.key(account_id) else None


def _log_failure(account_id: str, reason: str, **metadata) -> None:
    # The account's id when it exists; never the email that was typed.
    user_id = None if "@" in account_id else account_id
    log_event(Event.USER_LOGIN_FAILED, level=Level.WARN, user_id=user_id, reason=reason, **metadata)


def delete_expired_logins(batch_size: int = 5000) -> int:
    """Delete the login sessions past their expiry (nothing else did: Django leaves it to
    `clearsessions`), a short transaction a batch; how many. The cleanup command calls this."""
    deleted = 0
    while True:
        with acting_as_auth():
            batch = _expired_logins().values("pk")[:batch_size]
            count, _ = Login.objects.filter(pk__in=batch).delete()
        deleted += count
        if count < batch_size:
            return deleted


def count_expired_logins() -> int:
    """How many `delete_expired_logins()` would delete (cleanup --dry-run)."""
    with acting_as_auth():
        return _expired_logins().count()


def _expired_logins():
    return Login.objects.filter(expire_date__lt=timezone.now())
