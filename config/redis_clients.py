"""The one place Redis clients are made, for the web processes, the workers and the tools.

A client made per call would open a TCP connection per call (several per request), so each
process shares one client per URL; its connection pool is thread-safe. The cache is keyed by
pid (a forked process must not share its parent's sockets) and URL (tests point settings at
another database). A reader that blocks for a long time (XREAD) gets a dedicated client, and
asyncio code its own async client (it must not outlive its event loop).
"""

import os
import threading

import redis
import redis.asyncio as aioredis
from django.conf import settings

_lock = threading.Lock()
_clients: dict[tuple[int, str], redis.Redis] = {}


def redis_client(url: str | None = None) -> redis.Redis:
    """This process's shared client for ``url`` (default: REDIS_URL)."""
    url = url or settings.REDIS_URL
    key = (os.getpid(), url)
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.setdefault(key, redis.Redis.from_url(url))
    return client


def redis_dedicated_client(url: str | None = None, **options) -> redis.Redis:
    """A client of its own (close it after use): for a long blocking read, or with
    ``socket_timeout`` options for a health probe; of REDIS_URL unless ``url`` names
    another server (the broker's, for beat's health check)."""
    return redis.Redis.from_url(url or settings.REDIS_URL, **options)


def redis_async_client() -> aioredis.Redis:
    """An asyncio client for one coroutine's work (close it with ``aclose()``)."""
    return aioredis.from_url(settings.REDIS_URL)
