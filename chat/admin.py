from django.contrib import admin

from chat.models import Message


class MessageInline(admin.TabularInline):
    """A session's transcript, read-only: messages are immutable (a trigger refuses UPDATE).

    Deliberately no standalone Message admin: the transcript only makes sense in its session.
    """

    model = Message
    fk_name = "session"
    fields = ("sent_at", "chat_type", "role", "content", "client_message_id")
    readonly_fields = fields
    ordering = ("sent_at", "id")
    extra = 0
    can_delete = False
    show_change_link = False

    def has_view_permission(self, request, obj=None):
        return bool(request.user.is_active and request.user.is_staff)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
