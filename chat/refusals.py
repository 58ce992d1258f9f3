"""Why a turn or a reply did not happen: the chat's exceptions, in one place."""


class TurnRefused(Exception):
    """The turn cannot be taken; the message is for the learner. Nothing was stored."""


class ReplyInFlight(TurnRefused):
    def __init__(self) -> None:
        super().__init__("Wait for the reply before sending the next message.")


class SentWithOtherWords(TurnRefused):
    """One id, one message: a resend carries the same words."""

    def __init__(self) -> None:
        super().__init__("A message with this id was already sent with other words.")


class SessionEnded(TurnRefused):
    """The session is gone (abandoned, replaced, expired, deleted by staff): its sockets close
    (4403) at the turn that finds it, as at a deletion they were told of."""

    def __init__(self) -> None:
        super().__init__("This session is no longer available.")


class Throttled(TurnRefused):
    """Too many messages in a short time, or today's model calls are used up."""


class LoginEnded(Exception):
    """The learner logged out, or the account was deactivated or deleted, since the socket
    opened: nothing more is taken from it."""


class ClaimLost(Exception):
    """Another process took this reply's claim over (this one was thought dead)."""


class SessionGone(Exception):
    """The session was deleted (abandoned, replaced, expired) while its reply was written."""
