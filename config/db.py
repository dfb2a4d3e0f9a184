"""Database connections of async views, and text PostgreSQL cannot hold.

Under the ASGI server, an async view's sync_to_async calls run in a thread of the request's
own, and Django hands that thread's connection back to the pool only when the response ends.
A completion streams for seconds to minutes: held for all that time, 64 streaming answers
would need 64 pooled connections per web process, and the 21st request would wait for one
(then fail). ``sync_to_async_released`` runs the call and then gives the thread's connections
back at once, so a connection is only held while a query runs.
"""

from functools import wraps

from asgiref.sync import sync_to_async
from django.db import connections


def holds_nul(text: str) -> bool:
    """PostgreSQL text holds no NUL character, and a query comparing a column with such a
    value fails (DataError) instead of matching nothing: a lookup by an id from a request
    checks this first and finds nothing."""
    return "\x00" in text


def release_connections() -> None:
    """Returns this thread's connections to the pool, except one inside a transaction (a test
    wrapped in one, or a caller's atomic block): closing that would end the transaction."""
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()


def sync_to_async_released(function):
    """sync_to_async(function), releasing the thread's database connections when it returns."""

    @wraps(function)
    def call(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        finally:
            release_connections()

    return sync_to_async(call)
