"""The engine of this worker process: its model cache and its scheduler, built on first use.

Built lazily and per process id, so a worker that forks after importing this module
gets a fresh engine (threads do not survive fork) and nothing loads in the parent.
"""

import os
import threading
from dataclasses import dataclass

from django.conf import settings

from inference.engine.device import configure_torch_threads
from inference.engine.model_cache import ModelCache
from inference.engine.relay import Relay
from inference.engine.scheduler import Scheduler


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
            from config.redis_clients import redis_client
            from inference.streams import events_exchange

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
