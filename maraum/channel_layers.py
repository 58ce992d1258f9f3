"""The channel layers: in-process by default, Redis to run several processes."""

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


# channels-redis waits up to 5 s for a message on a blocking read (its brpop_timeout);
# redis-py 8 times any socket read out after 5 s by default, so every idle socket died
# after 5 s with "Timeout reading". The read timeout must outlast the wait.
REDIS_SOCKET_TIMEOUT = 15


def redis_layer(url: str) -> dict:
    return {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [{"address": url, "socket_timeout": REDIS_SOCKET_TIMEOUT}]},
    }
