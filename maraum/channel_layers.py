"""The default, in-process channel layer, tuned for many concurrent streams."""

import time

from channels.layers import InMemoryChannelLayer


class ThrottledInMemoryChannelLayer(InMemoryChannelLayer):
    """Channels' in-memory layer scans every channel for expired messages on every send and
    receive, which grows with the number of open chats times their frames per second; once a
    second is plenty for a 60-second message expiry."""

    _last_cleaned = 0.0

    def _clean_expired(self):
        now = time.monotonic()
        if now - self._last_cleaned >= 1.0:
            self._last_cleaned = now
            super()._clean_expired()
