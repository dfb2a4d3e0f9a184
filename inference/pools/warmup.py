"""A pool's worker at start (worker side): find the pools of the queues it consumes, load
their models into the engine within the pool's memory budget, and report what is loaded in
its heartbeat (models loaded per worker: /metrics and the admin read it from there).

Warming runs in a thread of its own, so the worker consumes at once: a request that comes
while its model is still loading waits on that load (the cache loads a model once).
"""

import logging
import sys
import threading
import time

from celery.signals import worker_ready
from django.db import connection

from config.worker_heartbeat import consumed_queues, set_models_reporter
from inference.pools.models import WorkerPool
from store.models import ListingVersion
from store.selectors import listing_for_model

log = logging.getLogger(__name__)

# storage path (the engine cache's key) -> model id, for the heartbeat's report.
_model_ids: dict[str, str] = {}
# Model ids an upstream pool of this worker serves (nothing to load here).
_upstream_models: set[str] = set()
_pools_cache: dict[str, tuple[float, object]] = {}
POOL_CACHE_SECONDS = 10.0


def pools_consuming(queues: list[str]):
    return list(
        WorkerPool.objects.filter(enabled=True, queue__in=queues).prefetch_related(
            "listings__publisher"
        )
    )


def pool_for_queue(queue: str):
    """The enabled pool consuming ``queue`` (None: a plain queue), remembered a few seconds
    so that a task does not query the database for every request."""
    now = time.monotonic()
    cached = _pools_cache.get(queue)
    if cached is not None and now - cached[0] < POOL_CACHE_SECONDS:
        return cached[1]
    pool = WorkerPool.objects.filter(enabled=True, queue=queue).first()
    _pools_cache[queue] = (now, pool)
    return pool


def model_named(storage_path: str, model_id: str) -> None:
    _model_ids[storage_path] = model_id


def model_id_for_dir(model_dir: str) -> str:
    """The store's model id of a version folder, remembered (one query per folder)."""
    if model_dir not in _model_ids:
        version = (
            ListingVersion.objects.select_related("listing__publisher")
            .filter(storage_path=model_dir)
            .first()
        )
        _model_ids[model_dir] = version.listing.model_id if version else model_dir
    return _model_ids[model_dir]


def loaded_models() -> list[str]:
    """Model ids loaded in this process's engine, plus those its upstream pools serve."""
    names = set(_upstream_models)
    # Read from sys.modules: the heartbeat thread must not be the one importing torch.
    runtime = sys.modules.get("inference.engine.runtime")
    engine = runtime.process_engine() if runtime is not None and runtime._engine else None
    if engine is not None:
        names.update(_model_ids.get(key, key) for key in engine.cache.resident())
    return sorted(names)


def pool_warm(*, queues: list[str]) -> list[str]:
    """Loads the models of the engine pools consuming ``queues``; returns the model ids loaded.

    A model that cannot load is logged and skipped: the others still serve.
    """
    # The engine imports torch: imported here, as the web process imports this module too.
    from inference.engine import process_engine
    from inference.engine.model_cache import ModelUnavailable

    warmed: list[str] = []
    pools = pools_consuming(queues)
    engine_pools = [p for p in pools if p.backend == p.Backend.ENGINE]
    for pool in pools:
        if pool.backend == pool.Backend.UPSTREAM:
            _upstream_models.update(listing.model_id for listing in pool.listings.all())
    if not engine_pools:
        return warmed
    engine = process_engine()
    engine.cache.budget_bytes = max(p.memory_budget_bytes for p in engine_pools)
    for pool in engine_pools:
        for listing in pool.listings.all():
            _, version = listing_for_model(model_id=listing.model_id)
            if version is None:
                continue
            model_named(version.storage_path, listing.model_id)
            try:
                engine.cache.release(
                    engine.cache.acquire(version.storage_path, version.serving_precision)
                )
            except ModelUnavailable:
                log.exception("Pool %s: cannot load %s", pool.name, listing.model_id)
                continue
            warmed.append(listing.model_id)
    log.info("Pools %s warmed: %s", [p.name for p in pools], warmed or "nothing to load")
    return warmed


@worker_ready.connect
def _warm_at_start(sender=None, **kwargs):
    queues = consumed_queues(sender)
    set_models_reporter(loaded_models)

    def run():
        try:
            pool_warm(queues=queues)
        except Exception:  # noqa: BLE001 - a worker that cannot warm still serves on demand
            log.exception("Warming the pools of %s failed", queues)
        finally:
            connection.close()

    threading.Thread(target=run, name="pool-warmup", daemon=True).start()
