"""Redis Streams of generation events (see inference/protocol.py).

Writer functions (worker side) come first; the web side's readers follow below.
"""


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
