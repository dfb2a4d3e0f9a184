"""Times each answer as the API reads its events: time to first token (from admission),
gaps between tokens, tokens, and how it ended. Series go to Prometheus as they happen; one
GenerationTiming row per answer is written when it ends.

``timed`` wraps a reader of events_read_async: the views keep reading as before.
"""

import logging
import threading
import time

from django.db import connection

from config.db import sync_to_async_released
from inference.monitoring import metrics
from inference.monitoring.models import GenerationTiming
from inference.protocol import DELTA, DONE, ERROR, FINISH
from inference.streams import StreamTimeout, WorkerLost

log = logging.getLogger(__name__)


class AnswerTiming:
    def __init__(self, started):
        self.started = started
        self.begun = time.monotonic()
        self.first: float | None = None
        self.last: float | None = None
        self.tokens = 0
        self.cancelled = False
        self.recorded = False

    def see(self, event: dict) -> None:
        kind = event.get("type")
        if kind == FINISH and event.get("finish_reason") == "cancelled":
            self.cancelled = True
        if kind != DELTA or not event.get("tokens"):
            return
        now, count, model = time.monotonic(), event["tokens"], self.started.model_id
        if self.first is None:
            self.first = now
            metrics.time_to_first_token.labels(model).observe(now - self.begun)
        else:
            # Tokens written together (one engine step, or a relay round) share the gap.
            gap = (now - self.last) / count
            histogram = metrics.inter_token.labels(model)
            for _ in range(count):
                histogram.observe(gap)
        self.last = now
        self.tokens += count
        metrics.tokens_generated.labels(model).inc(count)

    def finish(self, outcome: str, code: str = "") -> dict | None:
        """Counts the answer once; returns the fields of its row (None if already counted)."""
        if self.recorded:
            return None
        self.recorded = True
        metrics.generations.labels(self.started.model_id, outcome).inc()
        return {
            "request_id": self.started.request_id,
            "listing_id": self.started.listing_id,
            "queue": self.started.queue[:100],
            "outcome": outcome,
            "error_code": code[:64],
            "completion_tokens": self.tokens,
            "first_token_ms": (
                int((self.first - self.begun) * 1000) if self.first is not None else None
            ),
            "duration_ms": int((time.monotonic() - self.begun) * 1000),
        }


def timing_write(row: dict | None) -> None:
    if row is None:
        return
    try:
        GenerationTiming.objects.get_or_create(request_id=row.pop("request_id"), defaults=row)
    except Exception:  # noqa: BLE001 - monitoring must never break an answer
        log.exception("Could not record the timing of an answer")


_write = sync_to_async_released(timing_write)


def _write_in_background(row: dict | None) -> None:
    def run():
        try:
            timing_write(row)
        finally:
            connection.close()

    threading.Thread(target=run, name="timing", daemon=True).start()


async def timed(started, events):
    """Yields ``events`` unchanged, timing them; records the answer's end, however it ends."""
    timing = AnswerTiming(started)
    try:
        async for event in events:
            timing.see(event)
            kind = event.get("type")
            if kind == DONE:
                await _write(timing.finish("cancelled" if timing.cancelled else "ok"))
            elif kind == ERROR:
                await _write(timing.finish("error", event.get("code") or ""))
            yield event
    except WorkerLost:
        await _write(timing.finish("lost", "worker_lost"))
        raise
    except StreamTimeout:
        await _write(timing.finish("timeout", "timeout"))
        raise
    finally:
        if not timing.recorded:  # the client went away (the reader is being closed)
            _write_in_background(timing.finish("abandoned"))
