"""A chat socket whose client stops reading is dropped before the server holds too much for it
(maraum/serve.py installs this in Daphne)."""

import logging

import daphne.ws_protocol

logger = logging.getLogger("maraum.serve")


class BoundedWebSocketProtocol(daphne.ws_protocol.WebSocketProtocol):
    """Drops a websocket once more than MAX_UNSENT_SOCKET_BYTES wait to be sent to it, on top
    of its largest frame (a whole page, which a slow link may take a while to read): Twisted
    keeps what a client does not read in the process's memory, without limit, and a socket
    that never read grew a server by hundreds of MB (the ops replay; what the app sends it is
    bounded by what it may ask for, but nothing bounded what it may leave unread)."""

    dropped = False
    largest_frame = 0

    def connectionMade(self):
        super().connectionMade()  # copies the factory's options
        # A frame over Daphne's 1 MB or not in UTF-8 closes the socket with its code (1009,
        # 1007), not by dropping the connection without a word (the attacker's replay).
        self.failByDrop = False

    def serverSend(self, content, binary=False):
        from django.conf import settings

        if self.dropped:
            return
        unsent = unsent_bytes(self.transport)
        if unsent > settings.MAX_UNSENT_SOCKET_BYTES + self.largest_frame:
            self.dropped = True
            logger.warning(
                "dropped a websocket whose client stopped reading (%d bytes unsent)", unsent
            )
            self.dropConnection(abort=True)  # the app's consumer is told it disconnected
            return
        self.largest_frame = max(self.largest_frame, len(content))
        super().serverSend(content, binary)


def unsent_bytes(transport) -> int:
    """What a Twisted TCP transport holds for its peer in memory, beyond the kernel's buffer
    (as its own `_isSendBufferFull` counts it)."""
    while transport is not None and not hasattr(transport, "dataBuffer"):
        transport = getattr(transport, "transport", None)  # a wrapping protocol's
    if transport is None:
        return 0
    return len(transport.dataBuffer) - transport.offset + transport._tempDataLen
