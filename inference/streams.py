"""Redis Streams of generation events (see inference/protocol.py).

Writer functions (worker side) come first; the web side's readers follow below.
"""

# --- writers (worker side) -------------------------------------------------------------
# The worker appends a generation's events with XADD and refreshes the stream's TTL in the
# same round trip, so a stream nobody reads still disappears after STREAM_TTL_SECONDS.

import asyncio
import json
import time

from config.worker_heartbeat import (
    heartbeat_key,
    is_alive,
    queue_has_worker,
    queue_has_worker_async,
)
from inference.protocol import (
    CANCEL_TTL_SECONDS,
    CLAIMED,
    DELTA,
    DONE,
    ERROR,
    STREAM_TTL_SECONDS,
    cancel_key,
    stream_key,
)


def event_encode(event: dict) -> dict[str, str]:
    """Stream fields are strings: ints as decimal, text as is (possibly empty), lists
    (a delta's logprobs) as JSON."""
    return {
        name: json.dumps(value, separators=(",", ":")) if isinstance(value, list) else str(value)
        for name, value in event.items()
    }


def events_append(client, request_id: str, events: list[dict]) -> None:
    """Appends events in order and renews the stream's expiry, in one round trip."""
    events_exchange(client, {request_id: events} if events else {}, [])


def events_exchange(
    client, events_by_request: dict[str, list[dict]], check_cancel: list[str]
) -> set[str]:
    """Appends the events of many generations and reads the cancel flags of others, in one
    round trip (the worker's relay calls this after every engine step). Returns the ids of
    ``check_cancel`` whose client asked for a stop."""
    pipe = client.pipeline(transaction=False)
    for request_id, events in events_by_request.items():
        key = stream_key(request_id)
        for event in events:
            pipe.xadd(key, event_encode(event))
        pipe.expire(key, STREAM_TTL_SECONDS)
    for request_id in check_cancel:
        pipe.exists(cancel_key(request_id))
    if not len(pipe):
        return set()
    answers = pipe.execute()
    flags = answers[len(answers) - len(check_cancel) :] if check_cancel else []
    return {request_id for request_id, flag in zip(check_cancel, flags, strict=True) if flag}


def cancel_requested(client, request_id: str) -> bool:
    return bool(client.exists(cancel_key(request_id)))


def stream_progress(client, request_id: str) -> tuple[bool, bool, int]:
    """(anything written, final event written, completion tokens streamed so far).

    A task message is redelivered when its worker died (acks_late): the stream tells
    whether that earlier attempt already answered, or got part of the way.
    """
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


# A request whose stream has been silent this long is checked against the worker heartbeats;
# longer than a heartbeat's TTL, so a worker that is merely busy is never taken for dead.
WORKER_LOST_AFTER_SECONDS = 10.0
WORKER_CHECK_EVERY_SECONDS = 2.0


class StreamTimeout(Exception):
    """No final event arrived in time (the worker died, or the request is too slow)."""


class WorkerLost(StreamTimeout):
    """The worker process that claimed the request is gone (or, before any claimed it, no live
    worker serves its queue): it died or stopped mid-request.

    Without this a client would wait INFERENCE_REQUEST_TIMEOUT for an answer that cannot come.
    """


def claimant_alive(client, worker: str) -> bool:
    return is_alive(client.get(heartbeat_key(worker)), worker)


async def claimant_alive_async(client, worker: str) -> bool:
    return is_alive(await client.get(heartbeat_key(worker)), worker)


class _Cursor:
    """Where a reader is in one request's stream: the next entry id, the deadline, which worker
    claimed it, and when a silent stream is due for a look at the worker heartbeats."""

    def __init__(self, request_id: str, *, timeout: float, queue: str | None):
        self.request_id = request_id
        self.key = stream_key(request_id)
        self.queue = queue
        self.last_id = "0-0"
        self.worker: str | None = None  # from the "claimed" event
        self.deadline = time.monotonic() + timeout
        self._heard()

    def _heard(self) -> None:
        self.next_check = time.monotonic() + WORKER_LOST_AFTER_SECONDS

    def block_ms(self) -> int:
        """How long the next XREAD may block; StreamTimeout once the deadline has passed."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise StreamTimeout(self.request_id)
        return int(min(READ_BLOCK_MS, remaining * 1000)) or 1

    def worker_check_due(self, answer) -> bool:
        now = time.monotonic()
        if answer or not self.queue or now < self.next_check:
            return False
        self.next_check = now + WORKER_CHECK_EVERY_SECONDS
        return True

    def events(self, answer):
        """The events of one XREAD answer, in order, up to and including a final one."""
        for _key, entries in answer or []:
            self._heard()
            for entry_id, fields in entries:
                self.last_id = entry_id
                event = event_decode(fields)
                if event.get("type") == CLAIMED:
                    self.worker = event.get("worker")
                    continue
                yield event


def event_decode(fields: dict) -> dict:
    """A stream entry as a dict of str, with the protocol's integer fields as int."""
    event = {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in fields.items()
    }
    for name in _INT_FIELDS:
        if name in event:
            event[name] = int(event[name])
    if "logprobs" in event:
        event["logprobs"] = json.loads(event["logprobs"])
    return event


def _is_last(event: dict) -> bool:
    return event.get("type") in (DONE, ERROR)


def _stop_if_cancelled() -> None:
    """Raises CancelledError when this task was asked to stop but is still running.

    The ASGI handler cancels a response's task when its client disconnects; code between
    our awaits may swallow that CancelledError (seen here: a disconnected stream ran to its
    end with ``cancelling() == 1``, and the client was charged for the whole answer; and
    asgiref's sync_to_async, cancelled while admission ran in its thread, waits for the
    thread and returns normally). The task stays marked, so checking before every read
    makes the stop certain.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def events_read_async(client, request_id: str, *, timeout: float, queue: str | None = None):
    """Yields the request's events in order until "done" or "error"; StreamTimeout after
    ``timeout`` seconds without the final event, WorkerLost as soon as the stream is silent
    and no worker serves ``queue``. ``client`` is a redis.asyncio client."""
    cursor = _Cursor(request_id, timeout=timeout, queue=queue)
    while True:
        _stop_if_cancelled()  # before every read, the first one included
        answer = await client.xread(
            {cursor.key: cursor.last_id}, block=cursor.block_ms(), count=256
        )
        if cursor.worker_check_due(answer) and not await (
            claimant_alive_async(client, cursor.worker)
            if cursor.worker
            else queue_has_worker_async(client, queue)
        ):
            raise WorkerLost(request_id)
        for event in cursor.events(answer):
            yield event
            if _is_last(event):
                return


def events_read(client, request_id: str, *, timeout: float, queue: str | None = None):
    """The sync twin of events_read_async (``client`` is a redis.Redis)."""
    cursor = _Cursor(request_id, timeout=timeout, queue=queue)
    while True:
        answer = client.xread({cursor.key: cursor.last_id}, block=cursor.block_ms(), count=256)
        if cursor.worker_check_due(answer) and not (
            claimant_alive(client, cursor.worker)
            if cursor.worker
            else queue_has_worker(queue, client=client)
        ):
            raise WorkerLost(request_id)
        for event in cursor.events(answer):
            yield event
            if _is_last(event):
                return


def generation_cancel(client, request_id: str):
    """Asks the engine to stop this request at its next decode step (with an asyncio client,
    the returned awaitable does)."""
    return client.set(cancel_key(request_id), "1", ex=CANCEL_TTL_SECONDS)
