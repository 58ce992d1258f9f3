from django.contrib import admin
from django.db.models import F, Q
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from chat.goals import goal_states
from chat.models import Message, SceneReport
from lib.ids import parse_uuid
from lib.staff_admin import LargeListAdmin, admin_time
from scenarios.models import Session


class MessageInline(admin.TabularInline):
    """A session's transcript, read-only: messages are immutable (a trigger refuses UPDATE).

    Deliberately no standalone Message admin: the transcript only makes sense in its session.
    """

    model = Message
    fk_name = "session"
    fields = ("sent_at", "chat_type", "sender", "content", "client_message_id")
    readonly_fields = fields
    ordering = ("sent_at", "id")
    extra = 0
    can_delete = False
    show_change_link = False

    def has_view_permission(self, request, obj=None):
        return bool(request.user.is_active and request.user.is_staff)

    @admin.display(description="from")
    def sender(self, obj: Message) -> str:
        return obj.sender

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Session)
class SessionAdmin(LargeListAdmin):
    """Sessions with their transcripts. Registered here, beside the messages, because the
    scenarios app below knows nothing of messages."""

    summary = ("id", "learner", "scenario", "is_completed", "started_at", "last_activity_at")
    # Compact columns: the list fits a 1,400-pixel screen beside its filters.
    list_display = (
        "short_id",
        "learner",
        "scenario",
        "done",
        "started",
        "last_activity",
        "message_count",
        "duration",
    )
    list_display_links = ("short_id",)
    list_filter = ("scenario", "is_completed", "started_at")
    list_select_related = ("user", "scenario")
    search_fields = ("user__email",)
    search_help_text = "A learner's email (or part of it), or a session id or learner id."
    ordering = ("-started_at",)
    readonly_fields = (
        *summary,
        "level",
        "goals",
        "report_status",
        "completed_at",
        "message_count",
        "duration",
        "updated_at",
    )
    fields = readonly_fields
    inlines = (MessageInline,)

    def has_add_permission(self, request):
        return False  # sessions are started by learners

    def has_change_permission(self, request, obj=None):
        return False  # counts and timings belong to the database's triggers

    def get_search_results(self, request, queryset, search_term):
        session_or_learner = parse_uuid(search_term)
        if session_or_learner is not None:
            return (
                queryset.filter(Q(pk=session_or_learner) | Q(user_id=session_or_learner)),
                False,
            )
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="session", ordering="id")
    def short_id(self, obj: Session) -> str:
        return format_html('<span title="{}">{}…</span>', obj.pk, str(obj.pk)[:8])

    @admin.display(description="started", ordering="started_at")
    def started(self, obj: Session) -> str:
        return admin_time(obj.started_at)

    @admin.display(description="last activity", ordering="last_activity_at")
    def last_activity(self, obj: Session) -> str:
        return admin_time(obj.last_activity_at)

    @admin.display(description="learner", ordering="user__email")
    def learner(self, obj: Session) -> str:
        url = reverse("admin:accounts_user_change", args=[obj.user_id])
        return format_html('<a href="{}">{}</a>', url, obj.user.email)

    @admin.display(description="done", boolean=True, ordering="is_completed")
    def done(self, obj: Session) -> bool:
        return obj.is_completed

    @admin.display(
        description="role-play + helper",
        ordering=F("message_count_main") + F("message_count_helper"),
    )
    def message_count(self, obj: Session) -> str:
        """Counted as the learner's history counts them: "30" here was "23 role-play, 6 with
        the helper" there, the helper's greeting counted (a newcomer's walk)."""
        return f"{obj.message_count_main} + {obj.helper_chat_messages}"

    @admin.display(description="duration", ordering="duration_seconds")
    def duration(self, obj: Session) -> str:
        if obj.duration_seconds is None:
            return "-"
        # In words: "0:10" read as ten minutes (a newcomer's walk); it was ten seconds.
        minutes, seconds = divmod(obj.duration_seconds, 60)
        hours, minutes = divmod(minutes, 60)
        if hours:
            return f"{hours} h {minutes} min"
        return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"

    @admin.display(description="goals")
    def goals(self, obj: Session) -> str:
        states = goal_states(obj.pk)
        if not states:
            return "-"
        # A scene still being played has not failed them (a newcomer's recheck).
        not_reached = "✗ not reached:" if obj.is_completed else "○ not yet:"
        return format_html(
            '<ol class="session-goals">{}</ol>',
            format_html_join(
                "",
                "<li>{} {}</li>",
                (("✓" if s.reached else not_reached, s.goal.text) for s in states),
            ),
        )

    @admin.display(description="report")
    def report_status(self, obj: Session) -> str:
        report = SceneReport.objects.filter(session=obj).first()
        if report is None:
            return "-"
        if report.status != SceneReport.Status.READY:
            return report.get_status_display()
        content = report.content or {}
        corrections = len(content.get("corrections") or [])
        if report.kind == SceneReport.Kind.MODEL:
            said = f"by the model: {corrections} correction{'s' if corrections != 1 else ''}"
        else:
            said = "offline"
        words = len(report.words_offered)
        return f"{said}, {words} word{'s' if words != 1 else ''} to keep"
