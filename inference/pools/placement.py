"""Which queue a request goes to (web side).

A model placed on enabled pools goes to one of them whose queue has a live worker (a fresh
heartbeat, config/worker_heartbeat.py), picked at random so that pools share the load; none
live: 503 ``model_not_loaded`` at once, before anything is held or sent. A model placed
nowhere goes to the default queue (settings.INFERENCE_QUEUE_ROUTES, else
INFERENCE_DEFAULT_QUEUE), 503 ``no_worker_available`` when nothing consumes it.
"""

import random

from config.api_errors import ApplicationError
from config.worker_heartbeat import live_workers
from inference.pools.models import WorkerPool
from inference.queues import queue_for, queue_is_served


def pool_queues_for(*, listing_id: int) -> list[str]:
    """Queues of the enabled pools hosting the listing (one query)."""
    return list(
        WorkerPool.objects.filter(enabled=True, listings=listing_id)
        .order_by("queue")
        .values_list("queue", flat=True)
    )


def placement_queue(*, listing) -> str:
    """The queue to send this listing's next request to; ApplicationError (503) if none serves."""
    queues = pool_queues_for(listing_id=listing.pk)
    if not queues:
        queue = queue_for(model_id=listing.model_id)
        if not queue_is_served(queue):
            raise ApplicationError(
                "No inference worker is serving this model right now. Try again shortly.",
                code="no_worker_available",
                status=503,
            )
        return queue
    live = [queue for queue in queues if queue_is_served(queue)]
    if not live:
        raise ApplicationError(
            f"The model '{listing.model_id}' is not loaded on any running worker pool right "
            "now. Try again shortly.",
            code="model_not_loaded",
            status=503,
            field="model",
        )
    return random.choice(live)


def listing_is_served(*, listing) -> bool:
    """Whether a request for the listing would find a live worker now (monitoring, admin)."""
    try:
        placement_queue(listing=listing)
    except ApplicationError:
        return False
    return True


def pool_workers(*, queue: str) -> int:
    """How many live workers consume ``queue`` (their heartbeats)."""
    return sum(1 for worker in live_workers() if queue in worker.get("queues", []))
