"""Series read at scrape time from what the whole deployment shares (Redis, the database),
so that they are right whichever web process answers and wherever the workers run:
queue depth per queue, live workers and models loaded per worker (their heartbeats), live
workers per pool, and holds outstanding."""

from django.conf import settings
from prometheus_client.core import GaugeMetricFamily

from billing.models import CreditHold, QuotaHold
from config.redis_clients import redis_client
from config.worker_heartbeat import live_workers
from inference.pools.models import WorkerPool


def known_queues(workers: list[dict]) -> list[str]:
    queues = set(settings.CELERY_TASK_QUEUES_NAMES) | {settings.INFERENCE_DEFAULT_QUEUE}
    queues |= set(settings.INFERENCE_QUEUE_ROUTES.values())
    queues |= set(WorkerPool.objects.values_list("queue", flat=True))
    for worker in workers:
        queues |= set(worker.get("queues", []))
    return sorted(queues)


def queue_depths(queues: list[str]) -> dict[str, int]:
    """Messages waiting per queue: with Celery's Redis transport, a queue is a Redis list of
    that name (the broker may be another Redis than the streams')."""
    client = redis_client(settings.CELERY_BROKER_URL)
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        pipe.llen(queue)
    return dict(zip(queues, pipe.execute(), strict=True))


class StoreCollector:
    def collect(self):
        workers = live_workers()
        depth = GaugeMetricFamily(
            "gptstore_queue_depth", "Tasks waiting in each Celery queue.", labels=["queue"]
        )
        for queue, count in queue_depths(known_queues(workers)).items():
            depth.add_metric([queue], count)
        yield depth

        loaded = GaugeMetricFamily(
            "gptstore_worker_models_loaded",
            "Models loaded per live worker (from its heartbeat).",
            labels=["worker", "queues"],
        )
        model_loaded = GaugeMetricFamily(
            "gptstore_worker_model_loaded",
            "1 for each model a live worker has loaded.",
            labels=["worker", "model"],
        )
        for worker in workers:
            name = worker.get("hostname", "")
            models = worker.get("models", [])
            loaded.add_metric([name, ",".join(worker.get("queues", []))], len(models))
            for model in models:
                model_loaded.add_metric([name, model], 1)
        yield loaded
        yield model_loaded

        pools = GaugeMetricFamily(
            "gptstore_pool_live_workers",
            "Live workers consuming each enabled pool's queue.",
            labels=["pool", "queue", "backend"],
        )
        for pool in WorkerPool.objects.filter(enabled=True).order_by("name"):
            count = sum(1 for w in workers if pool.queue in w.get("queues", []))
            pools.add_metric([pool.name, pool.queue, pool.backend], count)
        yield pools

        held = QuotaHold.objects.filter(status=QuotaHold.Status.HELD)
        credit_held = CreditHold.objects.filter(status=CreditHold.Status.HELD)
        holds = GaugeMetricFamily(
            "gptstore_holds_outstanding",
            "Holds of requests not settled yet, by balance (quota packs or credits).",
            labels=["balance"],
        )
        holds.add_metric(["quota"], held.count())
        holds.add_metric(["credits"], credit_held.count())
        yield holds
        money = GaugeMetricFamily(
            "gptstore_held_credit_microcents_outstanding",
            "Credit (µ¢) reserved by holds not settled yet.",
        )
        money.add_metric([], sum(credit_held.values_list("amount", flat=True)))
        yield money
        tokens = GaugeMetricFamily(
            "gptstore_held_tokens_outstanding", "Tokens reserved by holds not settled yet."
        )
        tokens.add_metric([], sum(held.values_list("tokens", flat=True)))
        yield tokens
