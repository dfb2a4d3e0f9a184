"""One Redis client per process for the web side of inference (its pool is thread-safe).

A client made per call would open a TCP connection per call: several per request.
"""

import os
import threading

import redis
from django.conf import settings

_lock = threading.Lock()
_clients: dict[tuple[int, str], redis.Redis] = {}


def redis_client() -> redis.Redis:
    # Keyed by pid (a forked process must not share its parent's sockets) and URL (tests
    # may point settings at another database).
    key = (os.getpid(), settings.REDIS_URL)
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.setdefault(key, redis.Redis.from_url(settings.REDIS_URL))
    return client
