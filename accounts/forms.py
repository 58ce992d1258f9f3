from django import forms
from django.contrib.auth.forms import (
    PasswordChangeForm,
    PasswordResetForm,
    SetPasswordForm,
    UserCreationForm,
)
from django.http import HttpRequest

from accounts import emails, logins
from accounts.deletion import KEEPS_ADMIN_HISTORY, keeps_admin_history
from accounts.models import GermanLevel, User


class FocusOnTheFirstError:
    """After a failed submit the focus goes to the first box with an error, which reads its
    error out: it went to the email box (its autofocus) or fell to the page (a newcomer's
    walk)."""

    def full_clean(self):
        super().full_clean()
        first = next((name for name in self.fields if name in self.errors), None)
        if first is not None:
            for field in self.fields.values():
                field.widget.attrs.pop("autofocus", None)
            self.fields[first].widget.attrs["autofocus"] = True


class LevelForm(forms.Form):
    level = forms.ChoiceField(
        label="Your German",
        choices=GermanLevel.choices,
        initial=GermanLevel.A1,
        widget=forms.RadioSelect,
        help_text="The character and the helper pitch their language to it. "
        "You can change it any time.",
    )


class ErrorsUnderThePassword:
    """What the password validators say goes under the new password, whose box is then
    marked, not under its confirmation (Django's place for it; a newcomer's walk)."""

    FIRST_BOX = {"password2": "password1", "new_password2": "new_password1"}

    def validate_password_for_user(self, user, password_field_name="password2"):  # noqa: S107
        super().validate_password_for_user(user, self.FIRST_BOX[password_field_name])


class SignUpForm(FocusOnTheFirstError, ErrorsUnderThePassword, UserCreationForm):
    """Email, password (twice, checked by Django's password validators) and level."""

    level = forms.ChoiceField(
        label="Your German",
        choices=GermanLevel.choices,
        initial=GermanLevel.A1,
        required=False,  # A1 when left out
        widget=forms.RadioSelect,
        help_text=LevelForm.base_fields["level"].help_text,
    )

    class Meta:
        model = User
        fields = ("email",)
        widgets = {"email": forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})}
        error_messages = {
            "email": {
                "unique": "This email already has an account: log in, or reset your password "
                "if you have forgotten it (links below)."
            }
        }

    def email_in_use(self) -> str:
        return self._meta.error_messages["email"]["unique"]


class ResetPasswordForm(PasswordResetForm):
    email = emails.EmailField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        as_typed_if_odd=True,
    )


class LoginForm(FocusOnTheFirstError, forms.Form):
    email = emails.EmailField(
        as_typed_if_odd=True,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    password = forms.CharField(
        strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )

    def refuse(self, reason: str) -> None:
        """The email and password refused together: the password's box, drawn empty, takes
        the focus (it went to the email's, still filled in: a newcomer's walk)."""
        self.add_error(None, reason)
        self.fields["email"].widget.attrs.pop("autofocus", None)
        self.fields["password"].widget.attrs["autofocus"] = True


class DeleteAccountForm(FocusOnTheFirstError, forms.Form):
    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    confirm = forms.BooleanField(
        label="I understand that my account, history and conversations are deleted for good.",
        error_messages={"required": "Tick this box to say you understand."},
    )

    def __init__(self, request: HttpRequest, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if refused := logins.check_password_again(self.request, self.request.user, password):
            raise forms.ValidationError(refused)
        return password

    def clean(self):
        if keeps_admin_history(self.request.user):
            raise forms.ValidationError(KEEPS_ADMIN_HISTORY)
        return super().clean()


class SetNewPasswordForm(FocusOnTheFirstError, ErrorsUnderThePassword, SetPasswordForm):
    """Django's form, saving only the password column (the rest of the row is not its to
    write)."""

    def save(self, commit: bool = True) -> User:
        self.user.set_password(self.cleaned_data["new_password1"])
        if commit:
            self.user.save(update_fields=["password"])
        return self.user


class ChangePasswordForm(SetNewPasswordForm, PasswordChangeForm):
    """The current password, then the new one twice (on the account page)."""

    def __init__(self, request: HttpRequest, *args, **kwargs):
        super().__init__(request.user, *args, **kwargs)
        self.request = request
        self.fields["old_password"].label = "Your current password"

    def clean_old_password(self) -> str:
        password = self.cleaned_data["old_password"]
        if refused := logins.check_password_again(self.request, self.user, password):
            raise forms.ValidationError(refused)
        return password
