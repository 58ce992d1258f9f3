import json

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.utils.html import format_html

from eventlog.models import Log
from lib.ids import parse_uuid
from lib.staff_admin import LargeListAdmin, ReadOnlyStaffModelAdmin


@admin.register(Log)
class LogAdmin(LargeListAdmin, ReadOnlyStaffModelAdmin):
    """Operational events, read-only: the app and the database write them, cleanup ends them."""

    list_display = ("created_at", "level", "event_type", "user_id", "session", "summary")
    list_filter = ("level", "event_type", "created_at")
    search_fields = ("=user_id", "=session_id")
    search_help_text = (
        "A learner's email, or an exact learner id or session id (a deleted session's too)."
    )
    ordering = ("-created_at",)
    fields = ("created_at", "level", "event_type", "user_id", "session", "pretty_metadata")
    readonly_fields = fields

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        wanted = parse_uuid(search_term)
        if wanted is None and "@" in search_term:  # the learner's, by their account's email
            learners = get_user_model().objects.filter(email=search_term.strip())
            learner_id = learners.values_list("pk", flat=True).first()
            return queryset.filter(user_id=learner_id) if learner_id else queryset.none(), False
        if wanted is None:
            return queryset.none(), False
        # An id is a learner's, a session's or a deleted session's: filtered on the one column
        # it fills, PostgreSQL reads that column's index in date order. (An OR of the three
        # led it to walk the whole date index instead, slower as the table grows.)
        for column in ("user_id", "session_id", "former_session_id"):
            found = queryset.filter(**{column: wanted})
            if found.exists():
                return found, False
        return queryset.none(), False

    @admin.display(description="session id")
    def session(self, obj: Log) -> str:
        if obj.session_id:
            return str(obj.session_id)
        if obj.former_session_id:
            return f"{obj.former_session_id} (deleted)"
        return "-"

    @admin.display(description="metadata")
    def summary(self, obj: Log) -> str:
        if not obj.metadata:
            return ""
        text = json.dumps(obj.metadata, sort_keys=True, default=str)
        return text if len(text) <= 80 else text[:79] + "…"

    @admin.display(description="metadata")
    def pretty_metadata(self, obj: Log) -> str:
        if obj.metadata is None:
            return "-"
        return format_html(
            "<pre>{}</pre>", json.dumps(obj.metadata, indent=2, sort_keys=True, default=str)
        )
