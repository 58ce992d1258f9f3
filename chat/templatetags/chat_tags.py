from django import template

from chat.models import Message

register = template.Library()


@register.simple_tag
def speaker(message: Message, character: str) -> str:
    """Who said it, for screen readers, announcements and the transcript."""
    if message.from_learner:
        return "You"
    return "Helper" if message.role == Message.Role.HELPER else character
