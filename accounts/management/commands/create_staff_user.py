import os

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from lib.rls import acting_as_staff


class Command(BaseCommand):
    help = (
        "Create a staff user for the admin, or make an existing user staff (idempotent). "
        "Reads --email/--password, else MARAUM_STAFF_EMAIL/MARAUM_STAFF_PASSWORD; never prompts. "
        "An existing user's password changes only when one is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", help="default: $MARAUM_STAFF_EMAIL")
        parser.add_argument(
            "--password", help="default: $MARAUM_STAFF_PASSWORD (prefer it: flags show in ps)"
        )

    def handle(self, *args, email: str | None, password: str | None, **options):
        email = (email or os.environ.get("MARAUM_STAFF_EMAIL", "")).strip()
        password = password or os.environ.get("MARAUM_STAFF_PASSWORD") or None
        if not email:
            raise CommandError("No email: pass --email or set MARAUM_STAFF_EMAIL.")
        with acting_as_staff():
            user = User.objects.filter(email=email).first()  # citext: any case matches
            if user is None:
                if password is None:
                    raise CommandError(
                        f"{email} does not exist yet: pass --password or set "
                        "MARAUM_STAFF_PASSWORD to create it."
                    )
                _check_password(password, User(email=email))
                User.objects.create_user(email, password, is_staff=True)
                return f"Created staff user {email}."
            changes = []
            if not user.is_staff:
                user.is_staff = True
                changes.append("made staff")
            if not user.is_active:
                user.is_active = True
                changes.append("reactivated")
            if password is not None and not user.check_password(password):
                _check_password(password, user)
                user.set_password(password)
                changes.append("password changed")
            if not changes:
                return f"Staff user {user.email} already exists; nothing changed."
            user.save()
            return f"Staff user {user.email} exists; {', '.join(changes)}."


def _check_password(password: str, user: User) -> None:
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise CommandError("Password refused: " + " ".join(error.messages)) from error
