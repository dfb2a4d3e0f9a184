"""Carries the events of every running request from the engine to their streams.

One relay thread per worker process does all of it: after each engine step it collects
the new events of every request in flight, merges each choice's deltas, and hands them to
``send`` in one call (one Redis round trip for the whole batch); in the same call it asks,
every POLL_SECONDS, which requests the clients cancelled; and it enforces each request's
time limit (the threads pool has none).

A write that fails (Redis restarting) loses nothing: the events stay with their request and
go out, merged, with the next round that gets through, and a request is finished only once
its last event is written. Only when writes have failed for GIVE_UP_SECONDS are the requests
cancelled and their events dropped: nobody could read those answers.

Task threads only submit and then sleep until their request's last event is written, so
the engine thread competes for the interpreter lock with one thread, not with one per
request: with 16 requests polling and writing on their own, the engine spent a large share
of every decode step waiting for the lock (docs/ARCHITECTURE.md, worker pool).
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import DatabaseError
from redis.exceptions import RedisError

from inference.engine.requests import GenerationRequest
from inference.protocol import DELTA, DONE, ERROR

log = logging.getLogger(__name__)

POLL_SECONDS = 0.05
# How long the events of a request may wait for Redis before it is given up (a Redis restart
# takes a few seconds; the web side waits for the stream longer than this).
GIVE_UP_SECONDS = 30.0

# send(events by request id, request ids whose cancel flag to check) -> the ids cancelled.
Send = Callable[[dict[str, list[dict]], list[str]], set[str]]


def coalesce(events: list[dict]) -> list[dict]:
    """Merges the deltas of one choice that arrived together into one event, in place of
    the first; a choice's finish always comes after its deltas, so order is kept."""
    merged: list[dict] = []
    open_delta: dict[int, dict] = {}
    for event in events:
        if event["type"] == DELTA:
            current = open_delta.get(event["index"])
            if current is not None:
                current["text"] += event["text"]
                current["tokens"] += event["tokens"]
                if "logprobs" in event:
                    current.setdefault("logprobs", []).extend(event["logprobs"])
                continue
            event = dict(event)
            open_delta[event["index"]] = event
        elif "index" in event:
            open_delta.pop(event["index"], None)
        merged.append(event)
    return merged


def error_event(code: str, message: str, completion_tokens: int = 0) -> dict:
    return {"type": ERROR, "code": code, "message": message, "completion_tokens": completion_tokens}


def failure_event(exc: BaseException) -> dict:
    """The final event of a task that broke before answering: a part of the store down (the
    database restarting, Redis) is worth a retry (503); anything else is the worker's fault."""
    if isinstance(exc, (DatabaseError, RedisError)):
        return error_event(
            "service_unavailable",
            "A part of the store was unreachable; nothing was charged. Try again shortly.",
        )
    return error_event("generation_failed", "The worker failed before it answered.")


@dataclass(eq=False)
class _Relayed:
    request_id: str
    request: GenerationRequest
    deadline: float
    finished: threading.Event = field(default_factory=threading.Event)
    last: dict | None = None
    unsent: list[dict] = field(default_factory=list)  # a failed write's events, sent next
    failing_since: float | None = None


class Relay:
    def __init__(
        self,
        *,
        send: Send,
        poll_seconds: float = POLL_SECONDS,
        give_up_seconds: float = GIVE_UP_SECONDS,
    ):
        self.send = send
        self.poll_seconds = poll_seconds
        self.give_up_seconds = give_up_seconds
        self._jobs: list[_Relayed] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_poll = 0.0

    def wake(self) -> None:
        """New events may be waiting (the engine calls this once per step)."""
        self._ready.set()

    def send_now(self, request_id: str, events: list[dict]) -> None:
        """Writes events of a request the engine never ran (from the calling thread)."""
        self.send({request_id: events}, [])

    def follow(self, request_id: str, request: GenerationRequest, *, timeout: float) -> dict:
        """Relays ``request`` until its last event is written; returns that event."""
        relayed = _Relayed(request_id, request, deadline=time.monotonic() + timeout)
        with self._lock:
            self._jobs.append(relayed)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="relay", daemon=True)
                self._thread.start()
        self._ready.set()
        relayed.finished.wait()
        return relayed.last

    # -- the relay thread ------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._lock:
                idle = not self._jobs
            # follow() sets _ready after adding a job, so an idle wait never misses one.
            self._ready.wait(None if idle else self.poll_seconds)
            self._ready.clear()
            with self._lock:
                jobs = list(self._jobs)
            if jobs:
                try:
                    self._round(jobs)
                except Exception:  # noqa: BLE001 - the relay must outlive any one bad round
                    log.exception("Relay round failed")

    def _round(self, jobs: list[_Relayed]) -> None:
        now = time.monotonic()
        batch: dict[str, list[dict]] = {}
        for relayed in jobs:
            events = relayed.unsent + _drain(relayed.request)
            relayed.unsent = []
            if events:
                batch[relayed.request_id] = coalesce(events)
        check: list[str] = []
        if now >= self._next_poll:
            self._next_poll = now + self.poll_seconds
            check = [r.request_id for r in jobs if r.request.cancel_reason is None]
        cancelled: set[str] = set()
        written = batch
        if batch or check:
            try:
                cancelled = self.send(batch, check)
            except Exception:  # noqa: BLE001 - kept for the next round, or given up below
                written = self._keep_unsent(jobs, batch, now)
            else:
                for relayed in jobs:
                    if relayed.request_id in batch:
                        relayed.failing_since = None
        done: list[_Relayed] = []
        for relayed in jobs:
            request = relayed.request
            if relayed.request_id in cancelled:
                request.cancel()
            elif request.cancel_reason is None and now >= relayed.deadline:
                request.cancel("timeout")
            events = written.get(relayed.request_id)
            if events and events[-1]["type"] in (DONE, ERROR):
                relayed.last = events[-1]
                done.append(relayed)
        if done:
            with self._lock:
                self._jobs = [r for r in self._jobs if r not in done]
            for relayed in done:
                relayed.finished.set()

    def _keep_unsent(
        self, jobs: list[_Relayed], batch: dict[str, list[dict]], now: float
    ) -> dict[str, list[dict]]:
        """After a failed write: each request keeps its events for the next round, unless
        its writes have failed for give_up_seconds; those are cancelled and their events
        dropped (returned, as if written, so that a finished one ends)."""
        dropped: dict[str, list[dict]] = {}
        for relayed in jobs:
            events = batch.get(relayed.request_id)
            if events is None:
                continue
            if relayed.failing_since is None:
                relayed.failing_since = now
            if now - relayed.failing_since < self.give_up_seconds:
                relayed.unsent = events
                continue
            relayed.request.cancel()
            dropped[relayed.request_id] = events
        if dropped:
            log.exception(
                "Cannot write the events of %d generations for %.0f s; cancelled",
                len(dropped),
                self.give_up_seconds,
            )
        elif batch:
            log.warning(
                "Cannot write the events of %d generations; retrying", len(batch), exc_info=True
            )
        else:  # only the cancel poll failed: a Redis blink must not end the answers
            log.warning("Cannot check the cancel flags", exc_info=True)
        return dropped


def _drain(request: GenerationRequest) -> list[dict]:
    events = []
    while not request.events.empty():
        events.append(request.events.get_nowait())
    return events
