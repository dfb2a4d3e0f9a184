"""The Celery application: JSON only, late acks, one message prefetched per process."""

import os

from celery import Celery
from kombu import Queue

import config.broker_restarts  # noqa: F401 - a worker outlives its broker's restart

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

QUEUES = ("default", "inference.cpu", "inference.gpu", "training")

app = Celery("gptstore")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(name) for name in QUEUES]
app.conf.task_default_queue = "default"
app.conf.beat_schedule = {}
# Billing upkeep: holds of requests that died, and rental packs past their expiry.
app.conf.beat_schedule["billing-release-stale-holds"] = {
    "task": "billing.release_stale_holds",
    "schedule": 60.0,
}
app.conf.beat_schedule["billing-expire-quota-packs"] = {
    "task": "billing.expire_quota_packs",
    "schedule": 300.0,
}
# Publishers' share of per-token spend, counted from settled credit holds.
app.conf.beat_schedule["billing-roll-up-usage-earnings"] = {
    "task": "billing.roll_up_usage_earnings",
    "schedule": 60.0,
}
app.conf.beat_schedule["billing-expire-pending-orders"] = {
    "task": "billing.expire_pending_orders",
    "schedule": 600.0,
}
# Catalog upkeep: "most used" reads a per-listing count of the last 7 days refreshed here.
app.conf.beat_schedule["store-refresh-recent-usage"] = {
    "task": "store.listing_usage_refresh",
    "schedule": 600.0,
}
app.autodiscover_tasks()
# Fine-tuning: its tasks (the training run on the "training" queue, the upkeep on beat).
app.autodiscover_tasks(["inference.training"])
app.conf.beat_schedule["training-upkeep"] = {"task": "training.upkeep", "schedule": 60.0}

# Imported for its signal handlers: workers announce themselves in Redis. (Warming the models
# of a worker's pools reads the database: inference/apps.py connects it once apps are ready.)
import config.worker_heartbeat  # noqa: E402,F401
