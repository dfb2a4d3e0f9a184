"""Redis Streams of generation events (see inference/protocol.py).

Writer functions (worker side) come first; the web side's readers follow below.
"""


# --- writers (worker side) -------------------------------------------------------------
# The worker appends a generation's events with XADD and refreshes the stream's TTL in the
# same round trip, so a stream nobody reads still disappears after STREAM_TTL_SECONDS.

import os
import threading

_clients: dict[int, object] = {}
_clients_lock = threading.Lock()


def stream_client():
    """This process's Redis client for streams (thread-safe; rebuilt after a fork)."""
    import redis
    from django.conf import settings

    pid = os.getpid()
    with _clients_lock:
        client = _clients.get(pid)
        if client is None:
            _clients.clear()
            client = _clients[pid] = redis.Redis.from_url(settings.REDIS_URL)
        return client


def event_encode(event: dict) -> dict[str, str]:
    """Stream fields are strings: ints as decimal, text as is (possibly empty)."""
    return {name: str(value) for name, value in event.items()}


def events_append(client, request_id: str, events: list[dict]) -> None:
    """Appends events in order and renews the stream's expiry, in one round trip."""
    from inference.protocol import STREAM_TTL_SECONDS, stream_key

    if not events:
        return
    key = stream_key(request_id)
    pipe = client.pipeline(transaction=False)
    for event in events:
        pipe.xadd(key, event_encode(event))
    pipe.expire(key, STREAM_TTL_SECONDS)
    pipe.execute()


def cancel_requested(client, request_id: str) -> bool:
    from inference.protocol import cancel_key

    return bool(client.exists(cancel_key(request_id)))


def stream_progress(client, request_id: str) -> tuple[bool, bool, int]:
    """(anything written, final event written, completion tokens streamed so far).

    A task message is redelivered when its worker died (acks_late): the stream tells
    whether that earlier attempt already answered, or got part of the way.
    """
    from inference.protocol import DELTA, DONE, ERROR, stream_key

    entries = client.xrange(stream_key(request_id))
    if not entries:
        return False, False, 0
    tokens = 0
    for _, fields in entries:
        kind = fields.get(b"type", b"").decode()
        if kind == DELTA:
            tokens += int(fields.get(b"tokens", b"0"))
        elif kind in (DONE, ERROR):
            return True, True, tokens
    return True, False, tokens


# --- readers (web side) ----------------------------------------------------------------
# The API views read a generation's events here: async for the SSE view (an open stream
# must not pin a thread), sync for background settlement.

_INT_FIELDS = ("index", "tokens", "completion_tokens", "prompt_tokens")
READ_BLOCK_MS = 1000


class StreamTimeout(Exception):
    """No final event arrived in time (the worker died, or the request is too slow)."""


def event_decode(fields: dict) -> dict:
    """A stream entry as a dict of str, with the protocol's integer fields as int."""
    event = {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in fields.items()
    }
    for name in _INT_FIELDS:
        if name in event:
            event[name] = int(event[name])
    return event


def _is_last(event: dict) -> bool:
    from inference.protocol import DONE, ERROR

    return event.get("type") in (DONE, ERROR)


async def events_read_async(client, request_id: str, *, timeout: float):
    """Yields the request's events in order until "done" or "error"; StreamTimeout after
    ``timeout`` seconds without the final event. ``client`` is a redis.asyncio client."""
    import time

    from inference.protocol import stream_key

    key = stream_key(request_id)
    last_id = "0-0"
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise StreamTimeout(request_id)
        block = int(min(READ_BLOCK_MS, remaining * 1000)) or 1
        answer = await client.xread({key: last_id}, block=block, count=256)
        for _key, entries in answer or []:
            for entry_id, fields in entries:
                last_id = entry_id
                event = event_decode(fields)
                yield event
                if _is_last(event):
                    return


def events_read(client, request_id: str, *, timeout: float):
    """The sync twin of events_read_async (``client`` is a redis.Redis)."""
    import time

    from inference.protocol import stream_key

    key = stream_key(request_id)
    last_id = "0-0"
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise StreamTimeout(request_id)
        block = int(min(READ_BLOCK_MS, remaining * 1000)) or 1
        answer = client.xread({key: last_id}, block=block, count=256)
        for _key, entries in answer or []:
            for entry_id, fields in entries:
                last_id = entry_id
                event = event_decode(fields)
                yield event
                if _is_last(event):
                    return


def generation_cancel(client, request_id: str) -> None:
    """Asks the engine to stop this request at its next decode step."""
    from inference.protocol import CANCEL_TTL_SECONDS, cancel_key

    client.set(cancel_key(request_id), "1", ex=CANCEL_TTL_SECONDS)
