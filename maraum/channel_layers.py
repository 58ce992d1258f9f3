"""The channel layer: Channels' in-memory one by default, Redis to run several processes. It
carries only control messages (a login or a session ended); chat frames go through
chat.fanout."""

# channels-redis waits up to 5 s for a message on a blocking read (its brpop_timeout);
# redis-py 8 times any socket read out after 5 s by default, so every idle socket died
# after 5 s with "Timeout reading". The read timeout must outlast the wait.
REDIS_SOCKET_TIMEOUT = 15
# redis-py's pool holds 100 connections and refuses the 101st: a burst of chats connecting at
# once (each joins three groups) got "Too many connections" and a 1011 close. Connections are
# opened as needed and go back to the pool after each command; Redis accepts 10,000 clients.
REDIS_MAX_CONNECTIONS = 1000


def _retry():
    # A pooled connection Redis has dropped (a restart, an idle timeout) fails the command
    # sent on it: the first socket to join a group after a Redis restart was closed with 1011.
    # Retried on a new connection, it goes through.
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff

    return Retry(ExponentialBackoff(cap=1, base=0.05), 3)


def redis_layer(url: str) -> dict:
    return {
        "BACKEND": "maraum.redis_channel_layer.RedisChannelLayer",
        "CONFIG": {
            "hosts": [
                {
                    "address": url,
                    "socket_timeout": REDIS_SOCKET_TIMEOUT,
                    "max_connections": REDIS_MAX_CONNECTIONS,
                    "retry": _retry(),
                }
            ]
        },
    }
