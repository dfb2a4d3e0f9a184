"""Celery tasks of the inference worker.

``inference.generate`` hands one GenerationJob to this process's engine (or, on the queue of
an upstream pool, to its upstream server: inference/pools/upstream.py) and blocks until
the answer is complete, writing its events to the request's Redis Stream. Many tasks run
at once in the worker's thread pool; the engine batches them into shared forward passes.
"""

import logging
from dataclasses import fields

from celery import shared_task
from django.conf import settings

from config.redis_clients import redis_client
from config.worker_heartbeat import current_worker
from inference.monitoring.metrics import worker_tasks
from inference.pools.upstream import pool_relay
from inference.pools.warmup import model_id_for_dir, pool_for_queue
from inference.protocol import CLAIMED, GENERATE_TASK, GenerationJob
from inference.streams import cancel_requested, events_append, stream_progress

log = logging.getLogger(__name__)

_JOB_FIELDS = {f.name for f in fields(GenerationJob)}


@shared_task(name=GENERATE_TASK, bind=True, acks_late=True, ignore_result=True)
def generate(self, **payload) -> str:
    # Imported here so that web processes, which only send this task, never import torch.
    from inference.engine.relay import error_event, failure_event
    from inference.engine.runtime import process_engine, relay_job

    # Fields added to the protocol later are ignored by older workers, not fatal.
    job = GenerationJob(**{k: v for k, v in payload.items() if k in _JOB_FIELDS})
    client = redis_client()
    started, finished, tokens = stream_progress(client, job.request_id)
    if finished:
        return "duplicate"
    if started:
        # A worker died mid-answer and the broker redelivered the message: the client
        # already holds part of an answer, so it gets a clean ending, not a second one.
        message = "The worker generating this answer stopped; the answer is incomplete."
        events_append(client, job.request_id, [error_event("worker_lost", message, tokens)])
        return "error"
    worker = current_worker()
    if worker is not None:
        # Readers now watch this process: if it dies, a restarted worker on the same queue
        # must not pass for the one that held the answer.
        events_append(client, job.request_id, [{"type": CLAIMED, "worker": worker}])
    try:
        queue = (self.request.delivery_info or {}).get("routing_key") or ""
        pool = pool_for_queue(queue) if queue else None
        if pool is not None and pool.backend == pool.Backend.UPSTREAM:
            last = pool_relay(
                job,
                pool=pool,
                timeout_seconds=settings.INFERENCE_REQUEST_TIMEOUT,
                append=lambda events: events_append(client, job.request_id, events),
                cancelled=lambda: cancel_requested(client, job.request_id),
            )
        else:
            model_id_for_dir(job.model_dir)  # names the model in this worker's heartbeat
            last = relay_job(
                job,
                engine=process_engine(),
                timeout_seconds=settings.INFERENCE_REQUEST_TIMEOUT,
                # The client may have left while the job was queued: then nothing is computed.
                cancelled=cancel_requested(client, job.request_id),
            )
    except Exception as exc:
        # The client must hear of it now: its reader follows this living worker and would wait.
        events_append(client, job.request_id, [failure_event(exc)])
        raise
    worker_tasks.labels(
        queue, pool.backend if pool is not None else "engine", last.get("type", "")
    ).inc()
    if last.get("type") == "error":
        log.warning(
            "Generation %s ended with %s: %s", job.request_id, last.get("code"), last.get("message")
        )
    return last.get("type", "")
