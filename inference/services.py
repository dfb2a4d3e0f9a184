"""Inference writes: one completion request, from admission to settlement.

Admission (completion_start) runs in this order, each step refusing with an
ApplicationError the API maps to OpenAI's error shape:
model (404) → entitlement (403) → content safeguards (400) → tokenization and context
(400) → key limits (429) → a live worker pool for the model (503, inference/pools) → quota
hold for a rental (402) → the Celery task, sent after commit (503 if the broker is down).
Whatever was counted or held before a refusal is given back before the refusal leaves.

Settlement (completion_settle) is done by whoever sees the final stream event first: the
view that streams or waits, or a background reader started when the client went away. It
is idempotent (UsageRecord.request_id is unique), and billing's periodic stale-hold release
covers a request whose final event never came.
"""

import dataclasses
import itertools
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field

import redis
from django.conf import settings
from django.db import transaction

from accounts.models import ApiKey, User
from billing.models import CreditHold
from billing.selectors import Access, access_for, gpt_token_price_for, payer_for, token_price_for
from billing.services import (
    credits_hold,
    credits_release,
    credits_settle,
    quota_hold,
    quota_release,
    quota_settle,
    token_cost,
)
from config.api_errors import ApplicationError
from config.celery import app as celery_app
from config.db import release_connections
from config.redis_clients import redis_client, redis_dedicated_client
from inference import tokenization
from inference.api.errors import SERVICE_DOWN
from inference.limits import (
    free_limits_admit,
    in_flight_admit,
    in_flight_release,
    limits_admit,
    limits_correct,
)
from inference.models import UsageRecord
from inference.pools.placement import placement_queue
from inference.protocol import (
    DONE,
    ERROR,
    GENERATE_TASK,
    STREAM_TTL_SECONDS,
    GenerationJob,
    stream_key,
)
from inference.safeguards import prompt_screen
from inference.streams import StreamTimeout, events_read, generation_cancel
from inference.training.selectors import FINE_TUNED_PREFIX, fine_tuned_for_completion
from store.gpts.completion import GPT_PREFIX, gpt_for_use
from store.gpts.completion import turn_for as gpt_turn_for
from store.model_ids import model_not_found
from store.selectors import listing_for_model, served_model_id

logger = logging.getLogger(__name__)

DEFAULT_CONTEXT_LENGTH = 2048


@dataclass(frozen=True)
class CompletionParams:
    """A validated /v1 request body (see inference/api/validation.py)."""

    model: str
    kind: str  # "chat" (messages) or "text" (prompt)
    messages: list[dict] | None = None
    prompt: str | list[int] | None = None  # text, or token ids
    max_tokens: int | None = None
    temperature: float | None = None  # None: not sent (1.0, or a GPT's default)
    top_p: float = 1.0
    n: int = 1
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    stream: bool = False
    include_usage: bool = False
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    logit_bias: dict[int, float] = field(default_factory=dict)
    logprobs: int | None = None  # alternatives per token; None when not asked


@dataclass(frozen=True)
class StartedCompletion:
    request_id: str
    model_id: str
    created: int
    prompt_tokens: int
    max_tokens: int
    n: int
    access: str  # "purchase" | "rental"
    listing_id: int
    queue: str = ""  # where the task went; readers watch its workers' heartbeats
    logprobs: bool = False  # the answer carries token log probabilities
    # A GPT's answer: the knowledge files it drew on, [{"file": name}, ...] (store/gpts).
    sources: tuple = ()


def _context_key(request_id: str) -> str:
    return f"{stream_key(request_id)}:context"


def _redis() -> redis.Redis:
    return redis_client()


def _prompt_texts(params: CompletionParams, storage_path: str) -> list[str]:
    """What the content safeguards read: each message's text, or the prompt (a prompt sent
    as token ids is read decoded)."""
    if params.kind == "chat":
        return [tokenization.message_text(m.get("content")) for m in params.messages or []]
    if isinstance(params.prompt, list):
        try:
            return [tokenization.tokenizer_for(storage_path=storage_path).decode(params.prompt)]
        except (OSError, ValueError) as exc:
            raise _tokenizer_unavailable(storage_path) from exc
    return [params.prompt or ""]


def _tokenizer_unavailable(storage_path: str) -> ApplicationError:
    logger.exception("Tokenizer of %s failed", storage_path)
    return ApplicationError(
        "This model's tokenizer could not be loaded.", code="model_unavailable", status=503
    )


def _prompt_ids(params: CompletionParams, storage_path: str) -> list[int]:
    try:
        if params.kind == "chat":
            return tokenization.chat_prompt_ids(
                storage_path=storage_path, messages=params.messages or []
            )
        if isinstance(params.prompt, list):
            return list(params.prompt)  # the worker checks them against the vocabulary
        return tokenization.text_prompt_ids(storage_path=storage_path, prompt=params.prompt or "")
    except (OSError, ValueError) as exc:
        raise _tokenizer_unavailable(storage_path) from exc


def _send(job: GenerationJob, queue: str) -> None:
    celery_app.send_task(GENERATE_TASK, kwargs=job.as_kwargs(), queue=queue)


def completion_start(
    *,
    user: User,
    api_key: ApiKey | None,
    params: CompletionParams,
    source: str = UsageRecord.Source.API,
    gpt_draft: bool = False,
) -> StartedCompletion:
    """Admits one request and sends it to a worker. ``gpt_draft``: a GPT's builder tries
    its draft (the builder page's preview), at the base model's prices.

    Invariant: a refused request leaves no hold and no key-limit count behind; an admitted
    rental request holds prompt_tokens + n * max_tokens until it is settled or released.
    """
    gpt = revision = None
    if params.model.startswith(GPT_PREFIX):
        # A GPT (store/gpts): its published revision (or its builder's draft) on its base
        # model, paid from credits.
        gpt = gpt_for_use(user=user, model_id=params.model, draft=gpt_draft)
        revision = gpt if gpt_draft else gpt.published
        listing, version = listing_for_model(model_id=revision.base_listing.model_id)
    elif params.model.startswith(FINE_TUNED_PREFIX):
        # A customer's fine-tuned model: its own weights, on its base listing's terms.
        listing, version = fine_tuned_for_completion(user=user, model_id=params.model)
    else:
        listing, version = listing_for_model(model_id=params.model)
    if listing is None or version is None:
        raise model_not_found(params.model)
    if gpt is not None:
        # Always credits, at the base model's prices plus the builder's markup.
        access = Access(kind=None, available_tokens=0)
        markup = 0 if gpt_draft else revision.markup_per_mtok
        price = gpt_token_price_for(listing=listing, markup_per_mtok=markup)
        if price is None:
            raise ApplicationError(
                f"'{gpt.model_id}' is unavailable: its base model is not sold per token now.",
                code="model_unavailable",
                status=503,
                field="model",
            )
    else:
        access = access_for(user=user, listing=listing)
        # The price per token is read only where it can matter (no pack, or one too small).
        price = token_price_for(listing=listing) if access.kind is None else None
    if access.kind is None and price is None:
        raise ApplicationError(
            f"You have no access to '{listing.model_id}': buy it or rent quota on its store page.",
            code="model_not_entitled",
            status=403,
            field="model",
        )
    prompt_field = "messages" if params.kind == "chat" else "prompt"
    prompt_screen(texts=_prompt_texts(params, version.storage_path), field=prompt_field)
    context = version.context_length or DEFAULT_CONTEXT_LENGTH
    turn = None
    if gpt is not None:
        if params.kind != "chat":
            raise ApplicationError(
                f"'{gpt.model_id}' is a GPT: it answers /v1/chat/completions only.",
                code="unsupported_endpoint",
                field="model",
            )
        turn = gpt_turn_for(
            gpt=gpt,
            revision=revision,
            messages=params.messages or [],
            storage_path=version.storage_path,
            context_length=context,
            max_tokens=params.max_tokens,
            temperature=params.temperature,
        )
        params = dataclasses.replace(
            params,
            messages=turn.messages,
            max_tokens=turn.max_tokens,
            temperature=turn.temperature,
        )

    prompt_ids = _prompt_ids(params, version.storage_path)
    if not prompt_ids:
        raise ApplicationError(
            "The prompt is empty once tokenized; send some text.",
            code="empty_prompt",
            field=prompt_field,
        )
    max_tokens = params.max_tokens or max(
        1, min(settings.INFERENCE_DEFAULT_MAX_TOKENS, context - len(prompt_ids))
    )
    if len(prompt_ids) + max_tokens > context:
        raise ApplicationError(
            f"This model's maximum context length is {context} tokens. However, you requested "
            f"{len(prompt_ids) + max_tokens} tokens ({len(prompt_ids)} in the prompt, {max_tokens} "
            "for the completion). Please reduce the prompt or the completion length.",
            code="context_length_exceeded",
            field=prompt_field,
        )
    reserve = len(prompt_ids) + params.n * max_tokens
    if access.kind == "rental" and access.available_tokens < reserve:
        price = token_price_for(listing=listing)
    payer = payer_for(access=access, price=price, tokens=reserve)

    request_id = uuid.uuid4().hex
    in_flight = in_flight_admit(user_id=user.pk, request_id=request_id)
    held = False
    credit_hold = None
    ticket = free_ticket = None
    try:
        ticket = limits_admit(api_key=api_key, tokens=reserve) if api_key is not None else None
        if payer == "credits" and price.free:
            free_ticket = free_limits_admit(user_id=user.pk, tokens=reserve)
        queue = placement_queue(listing=listing)
        if payer == "rental":
            quota_hold(user=user, listing=listing, tokens=reserve, request_id=request_id)
            held = True
        elif payer == "credits":
            most = token_cost(
                prompt_tokens=len(prompt_ids), completion_tokens=params.n * max_tokens, price=price
            )
            credit_hold = credits_hold(
                user=user,
                listing=listing,
                price=price,
                amount=most,
                request_id=request_id,
                api_key=api_key,
                gpt=gpt,
                markup_per_mtok=markup if gpt else 0,
            )
            held = True
        started = StartedCompletion(
            request_id=request_id,
            # A fine-tuned model answers under its own "ft:" id, a GPT under its "gpt:" id.
            model_id=gpt.model_id
            if gpt
            else getattr(version, "model_id", None)
            or served_model_id(requested=params.model, listing=listing),
            created=int(time.time()),
            prompt_tokens=len(prompt_ids),
            max_tokens=max_tokens,
            n=params.n,
            access=payer,
            listing_id=listing.pk,
            queue=queue,
            logprobs=params.logprobs is not None,
            sources=tuple(turn.sources) if turn else (),
        )
        context_record = {
            "user_id": user.pk,
            "api_key_id": api_key.pk if api_key else None,
            "listing_id": listing.pk,
            "version_id": version.pk,
            "access": payer,
            "source": source,
            "gpt_id": gpt.pk if gpt else None,
            "gpt_revision_id": revision.pk if gpt and not gpt_draft else None,
            "started_at": time.time(),
            "prompt_tokens": len(prompt_ids),
            "limit_tokens_key": ticket.tokens_key if ticket else None,
            "limit_month_key": ticket.month_key if ticket else None,
            "limit_counted": ticket.tokens if ticket else 0,
            # What the credit hold reserved, at which prices: settling needs no read of it.
            "credit_terms": [
                credit_hold.amount,
                credit_hold.input_per_mtok,
                credit_hold.output_per_mtok,
                credit_hold.markup_per_mtok,
            ]
            if credit_hold
            else None,
            "free_tokens_key": free_ticket.tokens_key if free_ticket else None,
            "free_counted": free_ticket.tokens if free_ticket else 0,
        }
        _redis().set(_context_key(request_id), json.dumps(context_record), ex=STREAM_TTL_SECONDS)
        job = GenerationJob(
            request_id=request_id,
            model_dir=version.storage_path,
            precision=version.serving_precision,
            prompt_ids=prompt_ids,
            max_tokens=max_tokens,
            temperature=1.0 if params.temperature is None else params.temperature,
            top_p=params.top_p,
            n=params.n,
            stop=list(params.stop),
            seed=params.seed,
            enqueued_at=time.time(),
            presence_penalty=params.presence_penalty,
            frequency_penalty=params.frequency_penalty,
            logit_bias=[[token, bias] for token, bias in params.logit_bias.items()],
            logprobs=params.logprobs,
        )
        try:
            # After commit: the worker must find the hold (and anything else) committed.
            transaction.on_commit(lambda: _send(job, queue))
        except Exception as exc:  # noqa: BLE001 - kombu/redis raise many types when the broker is down
            logger.exception("Could not enqueue %s on %s", request_id, queue)
            raise ApplicationError(
                "The inference queue is unreachable right now. Try again shortly.",
                code="broker_unavailable",
                status=503,
            ) from exc
        return started
    except Exception:
        # Each step is undone on its own: with Redis down, the Redis steps fail, and that
        # must not keep the hold (in the database) from being released.
        if held:
            release = credits_release if payer == "credits" else quota_release
            _undo(release, background=True, request_id=request_id)
        if in_flight:
            _undo(in_flight_release, user_id=user.pk, request_id=request_id)
        for counted in (ticket, free_ticket):
            if counted is not None:
                _undo(
                    limits_correct,
                    tokens_key=counted.tokens_key,
                    month_key=counted.month_key,
                    counted=counted.tokens,
                    used=0,
                )
        _undo(_redis().delete, _context_key(request_id))
        raise


def _undo(step, *args, background: bool = False, **kwargs) -> None:
    """One step of undoing a refused admission; ``background``: a step that met a part of the
    store down is tried again until it lands (completion_in_background)."""
    try:
        step(*args, **kwargs)
    except SERVICE_DOWN:
        logger.warning("Undoing an admission: %s%s failed", step.__name__, args or kwargs)
        if background:
            completion_in_background(step, *args, **kwargs)


def completion_settle(
    *,
    request_id: str,
    prompt_tokens: int,
    completion_tokens: int,
    finish_reason: str = "",
    status: str = "ok",
) -> UsageRecord | None:
    """Records what a request used and settles its quota: debits prompt + completion tokens
    for a rental (releases everything on "error"), corrects the key's token counters.

    Idempotent: the first call writes the UsageRecord; any later call returns it unchanged.
    """
    client = _redis()
    raw = client.get(_context_key(request_id))
    if raw is None:
        return UsageRecord.objects.filter(request_id=request_id).first()
    context = json.loads(raw)
    # An answer that failed after the worker produced tokens (its time limit, a fault midway)
    # is charged what was produced: the prompt it read and the tokens it wrote, which the
    # client may already have. One that failed before any token is charged nothing.
    charged = status != "error" or completion_tokens > 0
    if status == "error" and completion_tokens > 0 and not prompt_tokens:
        prompt_tokens = context.get("prompt_tokens", 0)
    used = prompt_tokens + completion_tokens if charged else 0
    rental = context["access"] == "rental"
    credits = context["access"] == "credits"
    started_at = context.get("started_at")
    cost = 0
    if credits and charged:
        # Debited first (its own short transaction): the record then says what was charged.
        terms = context.get("credit_terms")
        cost = credits_settle(
            request_id=request_id,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            hold=CreditHold(
                request_id=request_id,
                amount=terms[0],
                input_per_mtok=terms[1],
                output_per_mtok=terms[2],
                markup_per_mtok=terms[3] if len(terms) > 3 else 0,
            )
            if terms
            else None,
        )
    elif credits:
        credits_release(request_id=request_id)
    with transaction.atomic():
        record, created = UsageRecord.objects.get_or_create(
            request_id=request_id,
            defaults={
                "user_id": context["user_id"],
                "api_key_id": context["api_key_id"],
                "listing_id": context["listing_id"],
                "version_id": context["version_id"],
                "gpt_id": context.get("gpt_id"),
                "gpt_revision_id": context.get("gpt_revision_id"),
                "source": context["source"],
                "access": context["access"],
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "charged_tokens": used if rental else 0,
                "cost": cost,
                "finish_reason": finish_reason[:16],
                "status": status,
                "latency_ms": int((time.time() - started_at) * 1000) if started_at else None,
            },
        )
        if created and rental:
            if used:
                quota_settle(request_id=request_id, used_tokens=used)
            else:
                quota_release(request_id=request_id)
    if created:
        in_flight_release(user_id=context["user_id"], request_id=request_id)
        if context.get("limit_tokens_key"):
            limits_correct(
                tokens_key=context["limit_tokens_key"],
                month_key=context["limit_month_key"],
                counted=context["limit_counted"],
                used=used,
            )
        if context.get("free_tokens_key"):
            limits_correct(
                tokens_key=context["free_tokens_key"],
                month_key="",
                counted=context["free_counted"],
                used=used,
            )
        client.delete(_context_key(request_id))
    return record


def completion_settle_from_events(*, request_id: str, events: list[dict]) -> UsageRecord | None:
    """Settles from a request's final event ("done" or "error") and its "finish" events."""
    final = events[-1]
    reasons = [e.get("finish_reason", "") for e in events if e.get("type") == "finish"]
    cancelled = "cancelled" in reasons
    if final["type"] == DONE:
        return completion_settle(
            request_id=request_id,
            prompt_tokens=final.get("prompt_tokens", 0),
            completion_tokens=final.get("completion_tokens", 0),
            finish_reason="cancelled" if cancelled else (reasons[0] if reasons else ""),
            status="cancelled" if cancelled else "ok",
        )
    return completion_settle(
        request_id=request_id,
        prompt_tokens=0,
        completion_tokens=final.get("completion_tokens", 0),
        finish_reason="error",
        status="error",
    )


def completion_abandon(
    *, request_id: str, timeout: float | None = None, queue: str | None = None
) -> UsageRecord | None:
    """The client is gone (or gave up): stop the generation, wait for its final event and
    settle only what was produced. No final event in time: release everything."""
    # Its own connection: this reader blocks on XREAD for a long time.
    client = redis_dedicated_client()
    generation_cancel(client, request_id)
    events: list[dict] = []
    try:
        for event in events_read(
            client, request_id, timeout=timeout or settings.INFERENCE_REQUEST_TIMEOUT, queue=queue
        ):
            if event.get("type") in (DONE, ERROR, "finish"):
                events.append(event)
    except StreamTimeout:
        return completion_settle(
            request_id=request_id, prompt_tokens=0, completion_tokens=0, status="error"
        )
    finally:
        client.close()
    return completion_settle_from_events(request_id=request_id, events=events)


def completion_stop(*, request_id: str, user) -> bool:
    """The customer stops their own answer (a stop button): the worker ends it as
    "cancelled" and the reader settles what was produced. False: no such answer of theirs
    is in progress."""
    raw = _redis().get(_context_key(request_id)) if request_id else None
    if raw is None or json.loads(raw).get("user_id") != getattr(user, "pk", None):
        return False
    generation_cancel(_redis(), request_id)
    return True


def completion_worker_lost(*, request_id: str) -> UsageRecord | None:
    """The worker died mid-answer and none took over (or the store lost Redis or the
    database while following the answer): the client gets an error, so nothing is charged
    and the hold is released now (not after the stale-hold sweep). The cancel flag stops a
    broker redelivery, or the generation still running, from computing an answer nobody reads."""
    generation_cancel(_redis(), request_id)
    return completion_settle(
        request_id=request_id, prompt_tokens=0, completion_tokens=0, status="error"
    )


def completion_abandon_in_background(
    *, request_id: str, queue: str | None = None
) -> threading.Thread:
    """Runs completion_abandon in a daemon thread, so a view can return (or be cancelled) at once."""
    return completion_in_background(completion_abandon, request_id=request_id, queue=queue)


# A settlement (or release) that meets a part of the store down (the database restarting,
# Redis unreachable) is tried again until it lands: each is idempotent, and the stale-hold
# sweep would release the hold without charging what was produced. Past this long the
# sweep (billing.tasks.STALE_HOLD_SECONDS, longer) follows up.
SETTLE_RETRY_SECONDS = 600
SETTLE_RETRY_PAUSES = (0.25, 0.5, 1.0, 2.0)


def completion_in_background(settle, /, *args, **kwargs) -> threading.Thread:
    """Runs ``settle`` (a settling service above) in a daemon thread, again after a pause
    whenever the database or Redis is unreachable, until it lands or SETTLE_RETRY_SECONDS
    have passed."""
    name = kwargs.get("request_id") or (args[0] if args else "")

    def run():
        deadline = time.monotonic() + SETTLE_RETRY_SECONDS
        for attempt in itertools.count():
            try:
                settle(*args, **kwargs)
                return
            except SERVICE_DOWN:
                if time.monotonic() > deadline:
                    logger.exception("Gave up settling %s; the stale-hold sweep follows up", name)
                    return
                if attempt == 0:
                    logger.warning("Settling %s waits for the store to answer", name, exc_info=True)
                time.sleep(SETTLE_RETRY_PAUSES[min(attempt, len(SETTLE_RETRY_PAUSES) - 1)])
            except Exception:  # noqa: BLE001 - a thread has nobody to raise to; the stale-hold sweep follows up
                logger.exception("Settling %s failed", name)
                return
            finally:
                release_connections()  # a connection the database dropped is not reused

    thread = threading.Thread(target=run, name=f"settle-{str(name)[:8]}", daemon=True)
    thread.start()
    return thread
