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
    kept_phrases: set = field(default_factory=set)  # helper answers' phrases it holds
    earlier: dict[str, int] = field(default_factory=dict)  # by chat: its messages not read

    def in_chat(self, chat: str) -> list[Message]:
        return messages.in_chat(self.messages, chat)

    def on_page(self, chat: str) -> list[Message]:
        """The chat's messages the chat page shows: its newest ON_PAGE_AT_MOST."""
        return self.in_chat(chat)[-ON_PAGE_AT_MOST:]

    def before_page(self, chat: str) -> int:
        """How many of the chat's messages come before those on the page."""
        return self.earlier.get(chat, 0) + max(0, len(self.in_chat(chat)) - ON_PAGE_AT_MOST)

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
    """One of the learner's sessions with each chat's latest ON_PAGE_AT_MOST messages and the
    replies in flight or, with `replies` false (a transcript), all its messages; None for
    anyone else's session."""
    with acting_as_learner(learner_id, savepoint=False):
        session = lifecycle.find_session(learner_id, session_id)
        if session is None:
            return None
        claimed = claims.claimed_chats(session_id) if replies else set()
        if replies:
            read = messages.latest(session_id, main=ON_PAGE_AT_MOST, helper=ON_PAGE_AT_MOST)
            history, earlier = read.messages, read.earlier
        else:
            history, earlier = messages.of_session(session_id), {}
        failures = {}
        for chat in Message.ChatType.values if replies else ():
            if chat not in claimed and messages.awaits_reply(history, chat):
                asked = messages.in_chat(history, chat)[-1]
                failures[chat] = call_log.last_failure(session_id, chat, asked.sent_at)
        return Conversation(
            session,
            history,
            claimed,
            {chat: failure for chat, failure in failures.items() if failure},
            goals.goal_states(session_id),
            *_kept_in(learner_id, history),
            earlier=earlier,
        )


@dataclass(frozen=True)
class EarlierMessages:
    """A page of a chat's messages before those a tab shows, for its "Show earlier"."""

    session: Session
    messages: list[Message]
    earlier: int  # the chat's messages before these
    kept_ids: set  # role-play lines the learner's deck holds
    kept_phrases: set  # helper answers' phrases it holds


def earlier_messages(learner_id, session_id, chat: str, before) -> EarlierMessages | None:
    """The ON_PAGE_AT_MOST messages of one of the learner's chats just before the message
    `before`; None for anyone else's session or a message not in that chat."""
    with acting_as_learner(learner_id, savepoint=False):
        session = lifecycle.find_session(learner_id, session_id)
        if session is None:
            return None
        found = messages.page_before(session_id, chat, before, ON_PAGE_AT_MOST)
        if found is None:
            return None
        page, earlier = found
        return EarlierMessages(session, page, earlier, *_kept_in(learner_id, page))


@dataclass(frozen=True)
class LineWords:
    """The words of a role-play line, for its "Keep words", and which the deck holds."""

    session: Session
    line: Message
    words: list[str]
    kept: set[str]


def words_of_line(learner_id, session_id, message_id) -> LineWords | None:
    """The words of one of the learner's role-play lines (the character's or the learner's),
    with those the deck holds; None for anyone else's session or a message not in its
    role-play."""
    with acting_as_learner(learner_id, savepoint=False):
        session = lifecycle.find_session(learner_id, session_id)
        if session is None:
            return None
        line = messages.one_in_chat(session_id, Message.ChatType.MAIN, message_id)
        if line is None:
            return None
        words = deck.words_of(line.content)
        return LineWords(session, line, words, deck.kept_of(learner_id, words, line.content))


def _kept_in(learner_id, shown: list[Message]) -> tuple[set, set]:
    """What of `shown` the learner's deck holds, in one query: the ids of the role-play lines,
    and the phrases quoted in helper answers (offered to keep: one in the deck was offered
    still, and answered "is in your deck" only once pressed: the last note's left item)."""
    main, helper = Message.ChatType.MAIN, Message.Role.HELPER
    lines = {line.id: deck.as_kept(line.content) for line in messages.in_chat(shown, main)}
    phrases = {
        german
        for answer in shown
        if answer.role == helper
        for german, _ in deck.quoted_phrases(answer.content)
    }
    kept = deck.kept_of(learner_id, [*lines.values(), *phrases])
    return {line_id for line_id, line in lines.items() if line in kept}, phrases & kept
