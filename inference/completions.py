"""Following one admitted completion to its end: the completion follower.

``follow`` reads the request's stream of worker events and yields domain events (text,
a choice finished, done, failed). It owns settlement, exactly once on every path:

- the final event (done or a worker error): settled from it, here, before it is yielded;
- the worker died (its claim is gone), or Redis or the database was lost while following:
  the client hears the answer failed and nothing was charged, so the hold is released
  ("worker lost"; for a lost store, once it answers again);
- the reader gives up (timeout) or the caller stops reading (the client went away, so the
  generator is closed): a background reader cancels the generation and settles what was
  produced (``completion_abandon_in_background``).

A settlement that meets the database or Redis down is tried again in the background until
it lands (``completion_in_background``), never left to the stale-hold sweep.

The API formatters (inference/api/responses.py) only turn these events into OpenAI's JSON
or Server-Sent Events; the playground goes through the same formatters, so through here.
"""

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from django.conf import settings

from config.db import sync_to_async_released
from config.redis_clients import redis_async_client
from inference.api.errors import SERVICE_DOWN
from inference.models import UsageRecord
from inference.monitoring.observer import timed
from inference.protocol import DELTA, DONE, ERROR, FINISH
from inference.safeguards import AnswerScreen, active_patterns, match_count
from inference.services import (
    StartedCompletion,
    completion_abandon_in_background,
    completion_in_background,
    completion_settle_from_events,
    completion_worker_lost,
)
from inference.streams import StreamTimeout, WorkerLost, events_read_async, generation_cancel

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Text:
    """Generated text (or log probabilities) of choice ``index``."""

    index: int
    text: str
    logprobs: list = field(default_factory=list)


@dataclass(frozen=True)
class ChoiceFinished:
    index: int
    # The worker's ("stop", "length", "cancelled", ...) or CONTENT_FILTER: the answer matched
    # a blocked pattern, so its generation was stopped and the piece that matched not shown.
    reason: str


@dataclass(frozen=True)
class Done:
    """The answer is complete and settled (``record``: None if the settlement failed)."""

    prompt_tokens: int
    completion_tokens: int
    record: UsageRecord | None


@dataclass(frozen=True)
class Failed:
    """The answer ends without completing. ``cause``: "generation" (the worker's error event
    is ``event``), "worker_lost", "timeout" or "store_unavailable"."""

    cause: str
    event: dict = field(default_factory=dict)


Event = Text | ChoiceFinished | Done | Failed
CONTENT_FILTER = "content_filter"


def _settle_or_later(settle, **kwargs) -> UsageRecord | None:
    # The answer is complete (or its failure told) whatever happens here: a settlement that
    # meets the database or Redis down must not break the response, and is tried again in
    # the background until it lands; any other failure (billing refused a conflicting
    # update) leaves the hold to the stale-hold sweep.
    request_id = kwargs["request_id"]
    try:
        return settle(**kwargs)
    except SERVICE_DOWN:
        logger.warning("Settling %s failed for now; retrying it", request_id, exc_info=True)
        completion_in_background(settle, **kwargs)
    except Exception:  # noqa: BLE001
        logger.exception("Settling %s failed; the stale-hold sweep will release it", request_id)
    return None


_settle = sync_to_async_released(_settle_or_later)
_patterns = sync_to_async_released(active_patterns)
_count = sync_to_async_released(match_count)


async def follow(started: StartedCompletion) -> AsyncIterator[Event]:
    """The request's events until its end; the last one is ``Done`` or ``Failed``."""
    client = redis_async_client()
    finals: list[dict] = []
    settled = False
    filtered: set[int] = set()  # choices the safeguards stopped
    try:
        screen = AnswerScreen(await _patterns())
        async for event in timed(
            started,
            events_read_async(
                client,
                started.request_id,
                timeout=settings.INFERENCE_REQUEST_TIMEOUT,
                queue=started.queue,
            ),
        ):
            kind = event.get("type")
            if kind in (DELTA, FINISH) and event["index"] in filtered:
                continue  # the rest of a stopped choice: never shown, its own finish replaced
            if kind == DELTA:
                text = event.get("text", "")
                if screen.blocks(event["index"], text):
                    # Stop generating (charged: what was produced) and end this choice.
                    filtered.add(event["index"])
                    await generation_cancel(client, started.request_id)
                    await _count(screen.matched)
                    finish = {"type": FINISH, "index": event["index"]}
                    finals.append({**finish, "finish_reason": CONTENT_FILTER})
                    yield ChoiceFinished(event["index"], CONTENT_FILTER)
                    continue
                yield Text(event["index"], text, event.get("logprobs") or [])
            elif kind == FINISH:
                finals.append(event)
                yield ChoiceFinished(event["index"], event.get("finish_reason", "stop"))
            elif kind in (DONE, ERROR):
                finals.append(event)
                settled = True
                record = await _settle(
                    completion_settle_from_events, request_id=started.request_id, events=finals
                )
                if kind == ERROR:
                    yield Failed("generation", event)
                else:
                    yield Done(
                        event.get("prompt_tokens", 0), event.get("completion_tokens", 0), record
                    )
                return
    except WorkerLost:
        settled = True
        await _settle(completion_worker_lost, request_id=started.request_id)
        yield Failed("worker_lost")
    except StreamTimeout:
        yield Failed("timeout")
    except SERVICE_DOWN:
        # The client is told nothing was charged: so it is (the hold released, the
        # generation stopped), once the store answers again.
        logger.exception("Lost a part of the store while following %s", started.request_id)
        settled = True
        completion_in_background(completion_worker_lost, request_id=started.request_id)
        yield Failed("store_unavailable")
    finally:
        if not settled:
            # The caller stopped reading (the client went away) or the stream gave up: a
            # thread stops the generation and settles what was produced.
            completion_abandon_in_background(request_id=started.request_id, queue=started.queue)
        await client.aclose()
