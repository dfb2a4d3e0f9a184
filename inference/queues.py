"""Which Celery queue serves a model.

One machine: every model on settings.INFERENCE_DEFAULT_QUEUE. Scale-out: GPU nodes subscribe
to per-model queues named in settings.INFERENCE_QUEUE_ROUTES ("publisher/listing" -> queue).
"""

import time

from django.conf import settings

from config.worker_heartbeat import queue_has_worker


def queue_for(*, model_id: str) -> str:
    return settings.INFERENCE_QUEUE_ROUTES.get(model_id, settings.INFERENCE_DEFAULT_QUEUE)


_SERVED_TTL_SECONDS = 1.0
_served: dict[str, tuple[float, bool]] = {}


def queue_is_served(queue: str) -> bool:
    """Whether a live worker consumes ``queue``, remembered for a second per process.

    Reading the heartbeats scans Redis's keyspace, whose size grows with the streams in
    flight; once a second per web process keeps that off the path of every request.
    """
    now = time.monotonic()
    cached = _served.get(queue)
    if cached is not None and now - cached[0] < _SERVED_TTL_SECONDS:
        return cached[1]
    served = queue_has_worker(queue)
    _served[queue] = (now, served)
    return served
