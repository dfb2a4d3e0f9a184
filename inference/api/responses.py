"""Turning a generation's stream events into OpenAI's answers: one JSON body, or Server-Sent
Events in the chunk format ending with ``data: [DONE]``.

Both read Redis asynchronously, so a waiting or streaming request holds no thread. Whoever
reads the final event settles the request; a reader that stops early (client gone, timeout)
hands the request to a background reader that cancels it and settles what was produced.
"""

import json
import logging

import redis.asyncio as aioredis
from django.conf import settings
from redis.exceptions import RedisError

from billing.money import exact_major_units
from config.db import sync_to_async_released
from inference.api.errors import RETRY_AFTER_SECONDS, OpenAIError, store_unavailable
from inference.api.logprobs import chat_logprobs, text_logprobs
from inference.monitoring.observer import timed
from inference.protocol import DELTA, DONE, ERROR, FINISH
from inference.services import (
    StartedCompletion,
    completion_abandon_in_background,
    completion_settle_from_events,
    completion_worker_lost,
)
from inference.streams import StreamTimeout, WorkerLost, events_read_async

logger = logging.getLogger(__name__)


def _settle_or_log(*, request_id: str, events: list[dict]):
    # The answer is complete whatever happens here: a failed settlement (billing refused a
    # conflicting update) must not break the response; its hold is left to the stale-hold sweep.
    try:
        return completion_settle_from_events(request_id=request_id, events=events)
    except Exception:  # noqa: BLE001
        logger.exception("Settling %s failed; the stale-hold sweep will release it", request_id)
        return None


_settle = sync_to_async_released(_settle_or_log)
_settle_lost = sync_to_async_released(completion_worker_lost)


def _finish_reason(reason: str) -> str:
    return "length" if reason == "length" else "stop"


def _usage(
    prompt_tokens: int, completion_tokens: int, charged: int | None = None, record=None
) -> dict:
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    if charged is not None:
        usage["charged_tokens"] = charged
    if record is not None and record.access == "credits":
        # What the request cost, in the store currency, as OpenRouter puts it in usage; an
        # exact decimal string (money is never a float here).
        usage["cost"] = exact_major_units(record.cost)
    return usage


def _ids(started: StartedCompletion, kind: str) -> tuple[str, str]:
    if kind == "chat":
        return f"chatcmpl-{started.request_id}", "chat.completion"
    return f"cmpl-{started.request_id}", "text_completion"


# Status and type of the worker's error codes. What the worker refuses because of the request
# itself (checked there against the model it loaded) is the client's error; anything else
# (a model that fails to load or to generate) is the store's.
WORKER_ERRORS = {
    "context_length_exceeded": (400, "invalid_request_error"),
    "invalid_request": (400, "invalid_request_error"),
    "service_unavailable": (503, "server_error"),
    # A pool's upstream server (inference/pools/upstream.py): down or busy is worth a retry.
    "upstream_unavailable": (503, "server_error"),
    "upstream_timeout": (504, "server_error"),
    "upstream_auth_failed": (502, "server_error"),
    "upstream_model_missing": (502, "server_error"),
}


def _error_from_event(event: dict) -> OpenAIError:
    code = event.get("code") or "generation_failed"
    status, error_type = WORKER_ERRORS.get(code, (500, "server_error"))
    return OpenAIError(
        event.get("message") or "The model failed while generating.",
        status=status,
        type=error_type,
        code=code,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else None,
    )


def _worker_lost_error() -> OpenAIError:
    return OpenAIError(
        "The worker serving this model stopped while answering; your quota hold was released. "
        "Try again.",
        status=503,
        type="server_error",
        code="worker_lost",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _timeout_error() -> OpenAIError:
    return OpenAIError(
        "The model did not answer in time. Try again, or ask for fewer tokens.",
        status=503,
        type="server_error",
        code="timeout",
    )


async def completion_body(started: StartedCompletion, *, kind: str) -> dict:
    """Waits for the whole answer; raises OpenAIError when the generation failed."""
    texts = {index: [] for index in range(started.n)}
    logprobs: dict[int, list] = {index: [] for index in range(started.n)}
    reasons: dict[int, str] = {}
    events: list[dict] = []
    client = aioredis.from_url(settings.REDIS_URL)
    finished = False
    record = None
    try:
        async for event in timed(
            started,
            events_read_async(
                client,
                started.request_id,
                timeout=settings.INFERENCE_REQUEST_TIMEOUT,
                queue=started.queue,
            ),
        ):
            kind_ = event.get("type")
            if kind_ == DELTA:
                texts.setdefault(event["index"], []).append(event.get("text", ""))
                logprobs.setdefault(event["index"], []).extend(event.get("logprobs", []))
            elif kind_ == FINISH:
                reasons[event["index"]] = event.get("finish_reason", "stop")
                events.append(event)
            elif kind_ in (DONE, ERROR):
                events.append(event)
                finished = True
                record = await _settle(request_id=started.request_id, events=events)
                if kind_ == ERROR:
                    raise _error_from_event(event)
    except WorkerLost as exc:
        finished = True
        await _settle_lost(request_id=started.request_id)
        raise _worker_lost_error() from exc
    except StreamTimeout as exc:
        raise _timeout_error() from exc
    finally:
        if not finished:
            completion_abandon_in_background(request_id=started.request_id, queue=started.queue)
        await client.aclose()
    final = events[-1]
    identifier, object_name = _ids(started, kind)
    shape = chat_logprobs if kind == "chat" else text_logprobs
    choices = []
    for index in sorted(texts):
        text = "".join(texts[index])
        reason = _finish_reason(reasons.get(index, "stop"))
        choice_logprobs = shape(logprobs.get(index, [])) if started.logprobs else None
        if kind == "chat":
            choices.append(
                {
                    "index": index,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "logprobs": choice_logprobs,
                    "finish_reason": reason,
                }
            )
        else:
            choices.append(
                {"index": index, "text": text, "logprobs": choice_logprobs, "finish_reason": reason}
            )
    return {
        "id": identifier,
        "object": object_name,
        "created": started.created,
        "model": started.model_id,
        "system_fingerprint": None,
        "choices": choices,
        "usage": _usage(
            final.get("prompt_tokens", 0), final.get("completion_tokens", 0), record=record
        ),
    }


def _sse(payload) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return f"data: {data}\n\n".encode()


async def completion_events(
    started: StartedCompletion, *, kind: str, include_usage: bool, show_charged: bool = False
):
    """Yields the SSE byte chunks of a streaming answer."""
    identifier, object_name = _ids(started, kind)
    object_name = "chat.completion.chunk" if kind == "chat" else "text_completion"
    base = {
        "id": identifier,
        "object": object_name,
        "created": started.created,
        "model": started.model_id,
    }
    if kind == "chat":
        base["system_fingerprint"] = None

    shape = chat_logprobs if kind == "chat" else text_logprobs

    def chunk(
        index: int,
        *,
        content: str | None = None,
        role: bool = False,
        finish_reason=None,
        logprobs: list | None = None,
    ) -> dict:
        shaped = shape(logprobs) if logprobs else None
        if kind == "chat":
            delta = {}
            if role:
                delta = {"role": "assistant", "content": ""}
            elif content is not None:
                delta = {"content": content}
            choice = {
                "index": index,
                "delta": delta,
                "logprobs": shaped,
                "finish_reason": finish_reason,
            }
        else:
            choice = {
                "index": index,
                "text": content or "",
                "logprobs": shaped,
                "finish_reason": finish_reason,
            }
        body = {**base, "choices": [choice]}
        if include_usage:
            body["usage"] = None
        return body

    client = aioredis.from_url(settings.REDIS_URL)
    events: list[dict] = []
    finished = False
    try:
        if kind == "chat":
            for index in range(started.n):
                yield _sse(chunk(index, role=True))
        async for event in timed(
            started,
            events_read_async(
                client,
                started.request_id,
                timeout=settings.INFERENCE_REQUEST_TIMEOUT,
                queue=started.queue,
            ),
        ):
            kind_ = event.get("type")
            if kind_ == DELTA and (event.get("text") or event.get("logprobs")):
                yield _sse(
                    chunk(event["index"], content=event["text"], logprobs=event.get("logprobs"))
                )
            elif kind_ == FINISH:
                events.append(event)
                yield _sse(
                    chunk(
                        event["index"], finish_reason=_finish_reason(event.get("finish_reason", ""))
                    )
                )
            elif kind_ in (DONE, ERROR):
                events.append(event)
                finished = True
                record = await _settle(request_id=started.request_id, events=events)
                if kind_ == ERROR:
                    yield _sse({"error": _error_from_event(event).body()})
                elif include_usage:
                    charged = (
                        record.charged_tokens if (show_charged and record is not None) else None
                    )
                    usage = _usage(
                        event.get("prompt_tokens", 0),
                        event.get("completion_tokens", 0),
                        charged,
                        record=record,
                    )
                    yield _sse({**base, "choices": [], "usage": usage})
                yield _sse("[DONE]")
    except WorkerLost:
        finished = True
        await _settle_lost(request_id=started.request_id)
        yield _sse({"error": _worker_lost_error().body()})
        yield _sse("[DONE]")
    except StreamTimeout:
        yield _sse({"error": _timeout_error().body()})
        yield _sse("[DONE]")
    except RedisError:
        logger.exception("Lost Redis while streaming %s", started.request_id)
        yield _sse({"error": store_unavailable().body()})
        yield _sse("[DONE]")
    finally:
        if not finished:
            # The client went away (this generator is being cancelled or closed) or the
            # stream timed out: a thread stops the generation and settles what was produced.
            completion_abandon_in_background(request_id=started.request_id, queue=started.queue)
        await client.aclose()
