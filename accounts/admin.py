from django.contrib import admin, messages
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import (
    AdminUserCreationForm,
    ReadOnlyPasswordHashWidget,
    UserChangeForm,
)
from django.contrib.contenttypes.models import ContentType
from django.db.models import Count
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from accounts.deletion import (
    KEEPS_ADMIN_HISTORY,
    KeepsAdminHistory,
    delete_account,
    keeps_admin_history,
    what_goes_with,
)
from accounts.models import User
from lib.staff_admin import StaffModelAdmin, admin_time, listed

# How the admin's history names an account that was deleted (accounts migration 0008 too).
DELETED_ACCOUNT = "a deleted account"

admin.site.site_header = "Maraum staff"
admin.site.site_title = "Maraum staff"
admin.site.index_title = "Scenarios, learners, sessions and logs"
# The lists of sessions and logs need the width; the breadcrumbs lead back to every model.
admin.site.enable_nav_sidebar = False


class PasswordOnlyASuperuserSets(ReadOnlyPasswordHashWidget):
    """Django's summary of a password, without its button ("Reset password")."""

    def render(self, name, value, attrs=None, renderer=None):
        summary = format_html_join(
            " ",
            "<strong>{}</strong>{}",
            (
                (entry["label"], format_html(": <bdi>{}</bdi>", entry["value"]))
                if entry.get("value")
                else (entry["label"], "")
                for entry in self.get_context(name, value, attrs)["summary"]
            ),
        )
        return format_html('<p>{}</p><p class="help">{}</p>', summary, ONLY_A_SUPERUSER_SETS_IT)


class LearnerCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class LearnerChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = ("email", "is_active", "is_staff")


@admin.register(User)
class LearnerAdmin(StaffModelAdmin, UserAdmin):
    """Learners and staff: email login, profile counts, a way to their sessions."""

    form = LearnerChangeForm
    add_form = LearnerCreationForm
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Access", {"fields": ("is_active", "is_staff", "is_superuser")}),
        (
            "Progress",
            {
                "fields": (
                    "level",
                    "completed_total",
                    "completed_this_week",
                    "next_reset",
                    "sessions_link",
                )
            },
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "is_staff", "usable_password", "password1", "password2"),
            },
        ),
    )
    readonly_fields = (
        "is_superuser",  # shown, so staff see why an account is theirs only to look at
        "level",
        "completed_total",
        "completed_this_week",
        "next_reset",
        "sessions_link",
        "last_login",
        "date_joined",
    )
    list_display = (
        "email",
        "is_staff",
        "is_active",
        "completed_total",
        "completed_this_week",
        "next_reset",
        "sessions_link",
        "date_joined",
    )
    list_filter = ("is_staff", "is_active")
    search_fields = ("email",)
    ordering = ("email",)
    filter_horizontal = ()
    list_select_related = ("profile",)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("profile")
            .annotate(_session_count=Count("profile__sessions"))
        )

    @admin.display(description="level", ordering="profile__level")
    def level(self, obj: User) -> str | None:
        """The learner's German, as the character and the helper pitch it (the page showed
        none: a newcomer's walk)."""
        return obj.profile.get_level_display() if _has_profile(obj) else None

    @admin.display(description="completed", ordering="profile__completed_scenario_count")
    def completed_total(self, obj: User) -> int | None:
        return obj.profile.completed_scenario_count if _has_profile(obj) else None

    @admin.display(description="this week", ordering="profile__current_week_completion_count")
    def completed_this_week(self, obj: User) -> int | None:
        return obj.profile.current_week_completion_count if _has_profile(obj) else None

    @admin.display(description="next reset", ordering="profile__week_reset_date")
    def next_reset(self, obj: User):
        return admin_time(obj.profile.week_reset_date) if _has_profile(obj) else None

    @admin.display(description="sessions", ordering="_session_count")
    def sessions_link(self, obj: User) -> str:
        count = getattr(obj, "_session_count", 0)
        url = reverse("admin:scenarios_session_changelist") + f"?user={obj.pk}"
        return format_html('<a href="{}">{} session{}</a>', url, count, "" if count == 1 else "s")

    def has_change_permission(self, request, obj=None):
        if obj is not None and not may_manage(request.user, obj):
            return False  # shown, not changed
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and keeps_admin_history(obj):
            return False  # deactivated instead (accounts.deletion.keeps_admin_history)
        if obj is not None and not may_manage(request.user, obj):
            return False
        return super().has_delete_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if obj is not None and not may_take_over(request.user, obj):
            fields = (*fields, "email")  # a reset sent to an address of one's own takes it over
        if obj is not None and not obj.is_staff and not may_give_staff_rights(request.user):
            fields = (*fields, "is_staff")  # taken away, not given
        return fields

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is None or may_take_over(request.user, obj):
            return form

        class PasswordNotOffered(form):
            """Its "Reset password" button led only to a refusal (a newcomer's recheck)."""

            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                if "password" in self.fields:
                    self.fields["password"].widget = PasswordOnlyASuperuserSets()

        PasswordNotOffered.__name__ = form.__name__
        return PasswordNotOffered

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None and not may_give_staff_rights(request.user):
            return [
                (name, {**options, "fields": [f for f in options["fields"] if f != "is_staff"]})
                for name, options in fieldsets
            ]
        return fieldsets

    def construct_change_message(self, request, form, formsets, add=False):
        """The history entry of a change to an account's password or email says so, in a part
        the history's text passes over: a superuser who gives the account staff rights is
        told who else could know how to log in as it (`credentials_set_by_others`)."""
        message = super().construct_change_message(request, form, formsets, add)
        if SETS_CREDENTIALS & set(form.changed_data):  # an account added with a password too
            message.append({SETS_CREDENTIALS_MARK: True})
        return message

    def save_model(self, request, obj: User, form, change) -> None:
        super().save_model(request, obj, form, change)
        if change and "is_staff" in form.changed_data and obj.is_staff:
            if others := credentials_set_by_others(obj, request.user):
                messages.warning(request, _may_log_in_as_it(others))

    def user_change_password(self, request, id, form_url=""):
        """Another staff member's password (or a superuser's) only a superuser sets: a staff
        member set a superuser's and logged in with it, to the pages staff are refused (the
        attacker's replay)."""
        user = self.get_object(request, unquote(id))
        if user is not None and not may_take_over(request.user, user):
            self.message_user(request, ONLY_A_SUPERUSER, messages.ERROR)
            return redirect("admin:accounts_user_change", user.pk)
        return super().user_change_password(request, id, form_url)

    def delete_view(self, request, object_id, extra_context=None):
        """An account that keeps the admin's history: its page, saying why (a bare 403 was
        all the delete page said: the attacker's recheck)."""
        user = self.get_object(request, unquote(object_id))  # as Django's own delete view
        if user is not None and not may_manage(request.user, user):
            # Before the advice to untick its Active box, which staff cannot (a newcomer's
            # recheck).
            self.message_user(request, ONLY_A_SUPERUSER_MANAGES, messages.ERROR)
            return redirect("admin:accounts_user_change", user.pk)
        if user is not None and keeps_admin_history(user):
            self.message_user(request, KEEPS_ADMIN_HISTORY, messages.ERROR)
            return redirect("admin:accounts_user_change", user.pk)
        return super().delete_view(request, object_id, extra_context)

    def log_deletions(self, request, queryset):
        """Nothing before the deletion: the history entry is written once `delete_account()`
        has deleted the account (`_log_deletion`). Written before, by Django, a double click's
        two requests wrote two entries, the second for a deletion that found nothing (the
        last note's left item)."""
        return []

    def delete_model(self, request, obj: User) -> None:
        try:
            deleted = delete_account(obj)
        except KeepsAdminHistory:  # an entry it wrote as the deletion was asked for
            request.kept_for_history = [*getattr(request, "kept_for_history", []), obj.pk]
            return
        if deleted is None:  # a second request's (a double click): it says so, not "deleted"
            request.deleted_already = [*getattr(request, "deleted_already", []), obj.pk]
        elif obj.pk != request.user.pk:  # logged as any deletion; staff deleting their own
            _log_deletion(request, obj.pk)  # account leave no entry (they are its author)

    def delete_queryset(self, request, queryset) -> None:
        for user in queryset:
            self.delete_model(request, user)
        if gone := len(getattr(request, "deleted_already", [])):
            self.message_user(
                request,
                f"{gone} of them had just been deleted by another request (in another tab?).",
                messages.WARNING,
            )
        if kept := len(getattr(request, "kept_for_history", [])):
            self.message_user(request, f"{kept} kept: {KEEPS_ADMIN_HISTORY}", messages.ERROR)

    def response_delete(self, request, obj_display, obj_id):
        if getattr(request, "kept_for_history", None):
            self.message_user(request, KEEPS_ADMIN_HISTORY, messages.ERROR)
            return redirect("admin:accounts_user_change", obj_id)
        if getattr(request, "deleted_already", None):
            self.message_user(
                request, "That account had been deleted already (in another tab?).", messages.INFO
            )
            return redirect("admin:accounts_user_changelist")
        return super().response_delete(request, obj_display, obj_id)

    def get_deleted_objects(self, objs, request):
        """The stock summary plus what the database cascades: profile, sessions, messages."""
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        user_ids = [obj.pk for obj in objs]
        goes = what_goes_with(user_ids)
        model_count = dict(model_count)
        model_count["profiles"] = len(user_ids)
        model_count["sessions"] = goes.sessions
        model_count["messages"] = goes.messages
        deleted = [
            *deleted,
            f"Deleted by the database with {'them' if len(user_ids) > 1 else 'it'}: "
            f"{_counted(len(user_ids), 'profile')}, {_counted(goes.sessions, 'session')} and "
            f"{_counted(goes.messages, 'message')}",  # "1 sessions" (a newcomer's recheck)
        ]
        # Said for what it is, not as a permission staff lack (the attacker's recheck).
        superusers = [obj.email for obj in objs if not may_manage(request.user, obj)]
        kept = [obj.email for obj in objs if keeps_admin_history(obj)]
        kept = [email for email in kept if email not in superusers]
        if superusers or kept:
            perms_needed = set(perms_needed) - {User._meta.verbose_name}
        if superusers:
            perms_needed.add(f"{', '.join(superusers)}: {ONLY_A_SUPERUSER_MANAGES}")
        if kept:
            perms_needed.add(f"{', '.join(kept)}: {KEEPS_ADMIN_HISTORY}")
        return deleted, model_count, perms_needed, protected


ONLY_A_SUPERUSER = (
    "Only a superuser can set a superuser's or another staff member's password or email: with "
    "it, one could log in as them."
)


ONLY_A_SUPERUSER_MANAGES = "Only a superuser can change or delete a superuser's account."
ONLY_A_SUPERUSER_SETS_IT = "Only a superuser can set this account's password."


SETS_CREDENTIALS = frozenset({"email", "password", "password1", "password2", "usable_password"})
SETS_CREDENTIALS_MARK = "sets_credentials"


def credentials_set_by_others(account: User, granting: User) -> list[LogEntry]:
    """The admin's changes to the account's password or email by anyone but its owner and
    `granting`, newest first: a staff member took a colleague's rights away, set the password
    of the learner that left, and a superuser who gave the rights back was not told (the
    last note's item)."""
    return list(
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(User),
            object_id=str(account.pk),
            action_flag__in=[ADDITION, CHANGE],
            change_message__contains=f'"{SETS_CREDENTIALS_MARK}": true',
        )
        .exclude(user_id__in=[account.pk, granting.pk])
        .select_related("user")
        .order_by("-action_time")
    )


def _may_log_in_as_it(changes: list[LogEntry]) -> str:
    # Not opening with the email: the admin capitalises a message's first letter.
    who = list(dict.fromkeys(change.user.email for change in changes))
    return (
        f"This account's password or email was set in the admin by {listed(who)} (last on "
        f"{admin_time(changes[0].action_time)}), who may know how to log in as it. Unless its "
        "owner has chosen a new password since, set one for it, or have them reset theirs."
    )


def may_give_staff_rights(staff_member: User) -> bool:
    """Only a superuser gives staff rights (staff may take them away): a staff member took a
    colleague's away, set the password of the learner that left, gave them back and logged in
    as the colleague (a newcomer's recheck)."""
    return staff_member.is_superuser


def may_manage(staff_member: User, account: User) -> bool:
    """Whether `staff_member` may change or delete `account` in the admin: a superuser's only a
    superuser may (or the superuser itself)."""
    if staff_member.is_superuser or staff_member.pk == account.pk:
        return True
    return not account.is_superuser


def may_take_over(staff_member: User, account: User) -> bool:
    """Whether `staff_member` may set `account`'s password or email, and so log in as it:
    another staff member's (or a superuser's) only a superuser may."""
    if staff_member.is_superuser or staff_member.pk == account.pk:
        return True
    return not (account.is_staff or account.is_superuser)


def _log_deletion(request, user_id) -> None:
    """The deletion's entry in the admin's history, naming no email: the database takes it out
    of the account's history when the account goes (accounts 0008), but not out of this one,
    written after (the attacker's recheck)."""
    LogEntry.objects.create(
        user_id=request.user.pk,
        content_type=ContentType.objects.get_for_model(User),
        object_id=str(user_id),
        object_repr=DELETED_ACCOUNT,
        action_flag=DELETION,
    )


def _counted(number: int, thing: str) -> str:
    return f"{number} {thing}{'' if number == 1 else 's'}"


def _has_profile(user: User) -> bool:
    try:
        return user.profile is not None
    except User.profile.RelatedObjectDoesNotExist:
        return False
