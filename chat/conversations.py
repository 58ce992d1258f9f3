"""A session as the chat sees it: started with its opening lines, and loaded with its messages
and the replies in flight."""

from dataclasses import dataclass, field

from chat import call_log, claims, goals, messages
from chat.goals import GoalState
from chat.models import Message
from chat.providers import ModelError
from learning import deck
from lib.rls import acting_as_learner
from scenarios import lifecycle
from scenarios.models import Scenario, Session

# A chat's newest messages on the chat page, which shows earlier ones as many at a time when
# asked (the transcript has them all). A page's sync is one websocket message, and autobahn
# refuses one over 1 MiB: a long helper chat (it has no cap) could not be opened at all (the
# recheck replay).
ON_PAGE_AT_MOST = 100


@dataclass(frozen=True)
class Conversation:
    """What a tab needs to show a session: its messages, and which chats await a reply."""

    session: Session
    messages: list[Message]
    claimed: set[str] = field(default_factory=set)  # chats with a reply in flight (anywhere)
    # chats awaiting a reply that will not come, with why (as logged), if it was logged
    failures: dict[str, ModelError] = field(default_factory=dict)
    goals: list[GoalState] = field(default_factory=list)
    kept_ids: set = field(default_factory=set)  # role-play lines the learner's deck holds

    def in_chat(self, chat: str) -> list[Message]:
        return messages.in_chat(self.messages, chat)

    def on_page(self, chat: str) -> list[Message]:
        """The chat's messages the chat page shows: its newest ON_PAGE_AT_MOST."""
        return self.in_chat(chat)[-ON_PAGE_AT_MOST:]

    def shown_before(self, chat: str, message_id) -> list[Message] | None:
        """The ON_PAGE_AT_MOST messages of the chat just before one of its messages, which a
        page asks for to show earlier ones; None if the chat has no such message."""
        in_chat = self.in_chat(chat)
        end = next((i for i, message in enumerate(in_chat) if message.pk == message_id), None)
        if end is None:
            return None
        return in_chat[max(0, end - ON_PAGE_AT_MOST) : end]

    def count_before(self, chat: str, messages_shown: list[Message]) -> int:
        """How many of the chat's messages come before those shown."""
        if not messages_shown:
            return 0
        return self.in_chat(chat).index(messages_shown[0])

    @property
    def main_count(self) -> int:
        return len(self.in_chat(Message.ChatType.MAIN))


def start(learner_id, scenario: Scenario, *, replacing=None, level: str | None = None) -> Session:
    """Start the scene with its opening lines (lifecycle.start_session's refusals apply)."""
    return lifecycle.start_session(
        learner_id,
        scenario,
        replacing=replacing,
        level=level,
        then=messages.add_openings,
    )


def load(learner_id, session_id, *, replies: bool = True) -> Conversation | None:
    """One of the learner's sessions with its messages and, unless `replies` is false (a
    transcript), the replies in flight; None for anyone else's session."""
    with acting_as_learner(learner_id, savepoint=False):
        session = lifecycle.find_session(learner_id, session_id)
        if session is None:
            return None
        claimed = claims.claimed_chats(session_id) if replies else set()
        history = messages.of_session(session_id)
        failures = {}
        for chat in Message.ChatType.values if replies else ():
            if chat not in claimed and messages.awaits_reply(history, chat):
                asked = messages.in_chat(history, chat)[-1]
                failures[chat] = call_log.last_failure(session_id, chat, asked.sent_at)
        lines = messages.in_chat(history, Message.ChatType.MAIN)
        kept = deck.which_kept(learner_id, [deck.as_kept(line.content) for line in lines])
        return Conversation(
            session,
            history,
            claimed,
            {chat: failure for chat, failure in failures.items() if failure},
            goals.goal_states(session_id),
            {line.id for line, is_kept in zip(lines, kept, strict=True) if is_kept},
        )
