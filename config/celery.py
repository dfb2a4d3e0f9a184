"""The Celery application: JSON only, late acks, one message prefetched per process."""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

QUEUES = ("default", "inference.cpu", "inference.gpu")

app = Celery("gptstore")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(name) for name in QUEUES]
app.conf.task_default_queue = "default"
app.conf.beat_schedule = {}
app.autodiscover_tasks()

# Imported for its signal handlers: workers announce themselves in Redis.
import config.worker_heartbeat  # noqa: E402,F401
