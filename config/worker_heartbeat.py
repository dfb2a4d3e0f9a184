"""Workers announce themselves in Redis so the web side can tell, in one round trip,
whether any worker consumes a queue (health checks, 503 before enqueueing).

A broadcast ``celery inspect ping`` would take a full timeout when no worker is up;
a key with a short TTL answers at once and disappears by itself when a worker dies.
"""

import json
import os
import socket
import threading
import time

from celery.signals import worker_ready, worker_shutdown

from config.redis_clients import redis_client

HEARTBEAT_PREFIX = "gptstore:worker-heartbeat:"
HEARTBEAT_INTERVAL = 2.0
HEARTBEAT_TTL = 6

_stop = threading.Event()
# This process's "<node name>:<pid>" once it is a worker; generations name it in their stream.
_identity: str | None = None
# Returns the model ids loaded in this worker (inference/pools/warmup.py sets it).
_models_reporter = None


def set_models_reporter(reporter) -> None:
    global _models_reporter
    _models_reporter = reporter


def _loaded_models() -> list[str]:
    if _models_reporter is None:
        return []
    try:
        return list(_models_reporter())
    except Exception:  # noqa: BLE001 - a report must never stop the heartbeat
        return []


def consumed_queues(sender) -> list[str]:
    """The queues a starting worker consumes (the sender of worker_ready)."""
    # The sender is the worker's Consumer (older Celery sent the WorkController).
    consumer = getattr(sender, "consumer", None) or sender
    app = getattr(consumer, "app", None)
    if app is None:
        return []
    return sorted(app.amqp.queues.consume_from or app.amqp.queues)


def _redis():
    return redis_client()


def live_workers() -> list[dict]:
    """Workers whose heartbeat is fresh, each as {"hostname", "queues", "pid", "models"}."""
    client = _redis()
    keys = list(client.scan_iter(match=f"{HEARTBEAT_PREFIX}*", count=100))
    if not keys:
        return []
    return [json.loads(raw) for raw in client.mget(keys) if raw]


def live_workers_on(host: str, *, queue: str | None = None) -> list[dict]:
    """Live workers whose Celery node name ("<name>@<host>") is on ``host`` (a container's
    health check: another machine's worker never makes this one look alive), and that
    consume ``queue`` when one is given."""
    return [
        worker
        for worker in live_workers()
        if worker.get("hostname", "").rpartition("@")[2] == host
        and (queue is None or queue in worker.get("queues", []))
    ]


def serves(payloads, queue: str) -> bool:
    """Whether one of these heartbeat payloads (as stored) is a live worker consuming
    ``queue``: the one rule for "does a live worker serve this queue", which the synchronous,
    asynchronous and cached readers all apply."""
    return any(queue in json.loads(raw).get("queues", []) for raw in payloads if raw)


def queue_has_worker(queue: str, *, client=None) -> bool:
    """Whether a live worker consumes ``queue`` (on ``client``, else a shared connection)."""
    client = client or _redis()
    keys = list(client.scan_iter(match=f"{HEARTBEAT_PREFIX}*", count=100))
    return bool(keys) and serves(client.mget(keys), queue)


async def queue_has_worker_async(client, queue: str) -> bool:
    """queue_has_worker for an asyncio Redis client."""
    keys = [key async for key in client.scan_iter(match=f"{HEARTBEAT_PREFIX}*", count=100)]
    return bool(keys) and serves(await client.mget(keys), queue)


def current_worker() -> str | None:
    """This worker process as "<node name>:<pid>" (None outside a worker)."""
    return _identity


def heartbeat_key(identity: str) -> str:
    return f"{HEARTBEAT_PREFIX}{identity.rsplit(':', 1)[0]}"


def is_alive(payload: bytes | str | None, identity: str) -> bool:
    """Whether a heartbeat ``payload`` (of heartbeat_key(identity)) comes from that very process:
    a restarted worker keeps the node name but not the pid."""
    if not payload:
        return False
    beat = json.loads(payload)
    return f"{beat.get('hostname')}:{beat.get('pid')}" == identity


def _beat(hostname: str, queues: list[str], pid: int) -> None:
    client = _redis()
    key = f"{HEARTBEAT_PREFIX}{hostname}"
    while not _stop.is_set():
        payload = json.dumps(
            {"hostname": hostname, "queues": queues, "pid": pid, "models": _loaded_models()}
        )
        try:
            client.set(key, payload, ex=HEARTBEAT_TTL)
        except Exception:  # noqa: BLE001 - Redis may blink; the next beat retries
            pass
        _stop.wait(HEARTBEAT_INTERVAL)
    try:
        client.delete(key)
    except Exception:  # noqa: BLE001
        pass


@worker_ready.connect
def _start_heartbeat(sender=None, **kwargs):
    queues = consumed_queues(sender)
    hostname = getattr(sender, "hostname", None) or f"worker@{socket.gethostname()}-{os.getpid()}"
    global _identity
    _identity = f"{hostname}:{os.getpid()}"
    _stop.clear()
    thread = threading.Thread(
        target=_beat, args=(hostname, queues, os.getpid()), name="heartbeat", daemon=True
    )
    thread.start()


@worker_shutdown.connect
def _stop_heartbeat(**kwargs):
    _stop.set()
    time.sleep(0)
