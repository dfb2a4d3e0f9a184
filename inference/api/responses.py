"""Formatting a completion's events (inference/completions.follow) as OpenAI's answers: one
JSON body, or Server-Sent Events in the chunk format ending with ``data: [DONE]``.

Nothing here settles or cancels anything: the follower does, on every path. Both read Redis
asynchronously (through the follower), so a waiting or streaming request holds no thread.
"""

import json

from billing.money import exact_major_units
from inference.api.errors import RETRY_AFTER_SECONDS, OpenAIError, store_unavailable, unavailable
from inference.api.logprobs import chat_logprobs, text_logprobs
from inference.completions import CONTENT_FILTER, ChoiceFinished, Done, Failed, Text, follow
from inference.services import StartedCompletion


def _finish_reason(reason: str) -> str:
    return reason if reason in ("length", CONTENT_FILTER) else "stop"


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
    return unavailable(
        "The worker serving this model stopped while answering; your quota hold was released. "
        "Try again.",
        code="worker_lost",
    )


def _timeout_error() -> OpenAIError:
    return OpenAIError(
        "The model did not answer in time. Try again, or ask for fewer tokens.",
        status=503,
        type="server_error",
        code="timeout",
    )


def _failure(failed: Failed) -> OpenAIError:
    """The one mapping of a follower's failure to OpenAI's error."""
    if failed.cause == "generation":
        return _error_from_event(failed.event)
    if failed.cause == "worker_lost":
        return _worker_lost_error()
    if failed.cause == "timeout":
        return _timeout_error()
    return store_unavailable()


async def completion_body(started: StartedCompletion, *, kind: str) -> dict:
    """Waits for the whole answer; raises OpenAIError when the generation failed."""
    texts = {index: [] for index in range(started.n)}
    logprobs: dict[int, list] = {index: [] for index in range(started.n)}
    reasons: dict[int, str] = {}
    done = None
    async for event in follow(started):
        if isinstance(event, Text):
            texts.setdefault(event.index, []).append(event.text)
            logprobs.setdefault(event.index, []).extend(event.logprobs)
        elif isinstance(event, ChoiceFinished):
            reasons[event.index] = event.reason
        elif isinstance(event, Failed):
            raise _failure(event)
        elif isinstance(event, Done):
            done = event
    if done is None:  # the follower always ends with Done or Failed; never answer half
        raise _timeout_error()
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
    body = {
        "id": identifier,
        "object": object_name,
        "created": started.created,
        "model": started.model_id,
        "system_fingerprint": None,
        "choices": choices,
        "usage": _usage(done.prompt_tokens, done.completion_tokens, record=done.record),
    }
    if started.sources:  # a GPT's answer: the knowledge files it drew on
        body["sources"] = list(started.sources)
    return body


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

    if kind == "chat":
        for index in range(started.n):
            first = chunk(index, role=True)
            if started.sources and index == 0:  # a GPT's answer: the files it drew on
                first["sources"] = list(started.sources)
            yield _sse(first)
    async for event in follow(started):
        if isinstance(event, Text):
            if event.text or event.logprobs:
                yield _sse(chunk(event.index, content=event.text, logprobs=event.logprobs))
        elif isinstance(event, ChoiceFinished):
            yield _sse(chunk(event.index, finish_reason=_finish_reason(event.reason)))
        elif isinstance(event, Failed):
            yield _sse({"error": _failure(event).body()})
            yield _sse("[DONE]")
        elif isinstance(event, Done):
            if include_usage:
                record = event.record
                charged = record.charged_tokens if (show_charged and record is not None) else None
                usage = _usage(event.prompt_tokens, event.completion_tokens, charged, record=record)
                yield _sse({**base, "choices": [], "usage": usage})
            yield _sse("[DONE]")
