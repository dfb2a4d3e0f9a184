"""Runs one GenerationJob through the engine and relays its events to a sink.

This runs in the worker thread that executes the Celery task, and blocks until the
request is finished, so the task is acknowledged (acks_late) only once its answer is
complete. The engine thread never waits on I/O: this thread writes the events, polls
for a cancel request, and enforces the time limit (the threads pool has none).
"""

import logging
import queue
import time
from collections.abc import Callable

from inference.engine.model_cache import ModelUnavailable
from inference.engine.requests import ContextTooLong, GenerationRequest
from inference.engine.runtime import Engine
from inference.protocol import DELTA, DONE, ERROR, GenerationJob

log = logging.getLogger(__name__)

EVENT_WAIT_SECONDS = 0.05
CANCEL_POLL_SECONDS = 0.05


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
                continue
            event = dict(event)
            open_delta[event["index"]] = event
        elif "index" in event:
            open_delta.pop(event["index"], None)
        merged.append(event)
    return merged


def error_event(code: str, message: str, completion_tokens: int = 0) -> dict:
    return {"type": ERROR, "code": code, "message": message, "completion_tokens": completion_tokens}


def relay_job(
    job: GenerationJob,
    *,
    engine: Engine,
    sink: Callable[[list[dict]], None],
    cancel_requested: Callable[[], bool],
    timeout_seconds: float,
) -> dict:
    """Generates ``job``; every event goes to ``sink`` (in order, deltas coalesced).

    Returns the last event (done or error). Never raises for a bad job or a model
    failure: those end as an "error" event, so the web side always sees an ending.
    """
    try:
        model = engine.cache.acquire(job.model_dir)
    except ModelUnavailable as exc:
        last = error_event("model_unavailable", str(exc))
        sink([last])
        return last
    try:
        try:
            request = engine.scheduler.submit(
                model=model,
                prompt_ids=job.prompt_ids,
                max_tokens=job.max_tokens,
                temperature=job.temperature,
                top_p=job.top_p,
                n=job.n,
                stop=job.stop,
                seed=job.seed,
                # The client may have left while the job was queued: then nothing is computed.
                cancelled=cancel_requested(),
            )
        except ContextTooLong as exc:
            last = error_event("context_length_exceeded", str(exc))
            sink([last])
            return last
        except ValueError as exc:
            last = error_event("invalid_request", str(exc))
            sink([last])
            return last
        last = _pump(
            request, sink=sink, cancel_requested=cancel_requested, timeout_seconds=timeout_seconds
        )
        _log_timings(job, request, last)
        return last
    finally:
        engine.cache.release(model)


def _log_timings(job: GenerationJob, request: GenerationRequest, last: dict) -> None:
    """One line per request: where its time went (queue, wait for admission, first token)."""
    now, wall = time.monotonic(), time.time()
    queued = (wall - (now - request.submitted_at) - job.enqueued_at) if job.enqueued_at else 0.0
    admitted = (request.admitted_at or now) - request.submitted_at
    first = (request.first_token_at or now) - request.submitted_at
    log.info(
        "Generation %s %s: %d+%d tokens; broker %.0f ms, admission %.0f ms, "
        "first token %.0f ms, total %.2f s",
        job.request_id,
        last.get("code") or last["type"],
        request.prompt_tokens,
        request.completion_tokens,
        queued * 1000,
        admitted * 1000,
        first * 1000,
        now - request.submitted_at,
    )


def _pump(
    request: GenerationRequest,
    *,
    sink: Callable[[list[dict]], None],
    cancel_requested: Callable[[], bool],
    timeout_seconds: float,
) -> dict:
    deadline = time.monotonic() + timeout_seconds
    next_poll = time.monotonic() + CANCEL_POLL_SECONDS
    while True:
        try:
            events = [request.events.get(timeout=EVENT_WAIT_SECONDS)]
        except queue.Empty:
            events = []
        while True:
            try:
                events.append(request.events.get_nowait())
            except queue.Empty:
                break
        if events:
            try:
                sink(coalesce(events))
            except Exception:  # noqa: BLE001 - nobody can read this answer; stop computing it
                log.exception("Cannot write the events of a generation; cancelling it")
                request.cancel()
            if events[-1]["type"] in (DONE, ERROR):
                return events[-1]
        now = time.monotonic()
        if request.cancel_reason is None:
            if now >= deadline:
                request.cancel("timeout")
            elif now >= next_poll:
                next_poll = now + CANCEL_POLL_SECONDS
                try:
                    if cancel_requested():
                        request.cancel()
                except Exception:  # noqa: BLE001 - a Redis blink must not kill the answer
                    log.warning("Cannot check the cancel flag", exc_info=True)
