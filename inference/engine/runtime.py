"""The engine of this worker process: its model cache and its scheduler, built on first use;
``relay_job`` runs one generation job on it, its events carried by the engine's relay.

Built lazily and per process id, so a worker that forks after importing this module
gets a fresh engine (threads do not survive fork) and nothing loads in the parent.
"""

import logging
import os
import threading
import time
from dataclasses import dataclass

from django.conf import settings

from config.redis_clients import redis_client
from inference.engine.device import configure_torch_threads
from inference.engine.model_cache import ModelCache, ModelUnavailable
from inference.engine.relay import Relay, error_event
from inference.engine.requests import ContextTooLong, GenerationRequest
from inference.engine.sampling import Steering
from inference.engine.scheduler import Scheduler
from inference.protocol import GenerationJob
from inference.streams import events_exchange

log = logging.getLogger(__name__)


@dataclass
class Engine:
    cache: ModelCache
    scheduler: Scheduler
    relay: Relay
    torch_threads: int

    def __post_init__(self):
        self.scheduler.listen(self.relay.wake)


_engine: Engine | None = None
_engine_pid: int | None = None
_lock = threading.Lock()


def process_engine() -> Engine:
    global _engine, _engine_pid
    with _lock:
        if _engine is None or _engine_pid != os.getpid():
            threads = configure_torch_threads(settings.INFERENCE_TORCH_THREADS)
            _engine = Engine(
                cache=ModelCache(
                    root=settings.MEDIA_ROOT,
                    budget_bytes=settings.INFERENCE_MODEL_CACHE_BYTES,
                    device_setting=settings.INFERENCE_DEVICE,
                    pack_weights=settings.INFERENCE_PACK_WEIGHTS,
                    own_forward=settings.INFERENCE_OWN_FORWARD,
                ),
                scheduler=Scheduler(
                    max_batch_rows=settings.INFERENCE_MAX_BATCH_ROWS,
                    max_prefill_tokens=settings.INFERENCE_MAX_PREFILL_TOKENS,
                    prefill_chunk_tokens=settings.INFERENCE_PREFILL_CHUNK_TOKENS,
                    threads=threads,
                ),
                relay=Relay(
                    send=lambda events, check: events_exchange(redis_client(), events, check)
                ),
                torch_threads=threads,
            )
            _engine_pid = os.getpid()
        return _engine


def relay_job(
    job: GenerationJob, *, engine: Engine, timeout_seconds: float, cancelled: bool = False
) -> dict:
    """Generates ``job``; every event goes to its stream through the engine's relay, in order.

    ``cancelled``: the client left while the job was queued (nothing is computed).
    Returns the last event (done or error). Never raises for a bad job or a model
    failure: those end as an "error" event, so the web side always sees an ending.
    """
    try:
        model = engine.cache.acquire(job.model_dir, job.precision)
    except ModelUnavailable as exc:
        return _refuse(engine.relay, job, error_event("model_unavailable", str(exc)))
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
                steering=Steering(
                    presence_penalty=job.presence_penalty,
                    frequency_penalty=job.frequency_penalty,
                    logit_bias={int(token): float(bias) for token, bias in job.logit_bias},
                ),
                logprobs=job.logprobs,
                cancelled=cancelled,
            )
        except ContextTooLong as exc:
            return _refuse(engine.relay, job, error_event("context_length_exceeded", str(exc)))
        except ValueError as exc:
            return _refuse(engine.relay, job, error_event("invalid_request", str(exc)))
        last = engine.relay.follow(job.request_id, request, timeout=timeout_seconds)
        _log_timings(job, request, last)
        return last
    finally:
        engine.cache.release(model)


def _refuse(relay: Relay, job: GenerationJob, last: dict) -> dict:
    try:
        relay.send_now(job.request_id, [last])
    except Exception:  # noqa: BLE001 - the web side's reader times out on its own
        log.exception("Cannot write the error event of %s", job.request_id)
    return last


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
