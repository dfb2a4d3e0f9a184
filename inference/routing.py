"""Which Celery queue serves a model.

One machine: every model on settings.INFERENCE_DEFAULT_QUEUE. Scale-out: GPU nodes subscribe
to per-model queues named in settings.INFERENCE_QUEUE_ROUTES ("publisher/listing" -> queue).
"""

from django.conf import settings


def queue_for(*, model_id: str) -> str:
    return settings.INFERENCE_QUEUE_ROUTES.get(model_id, settings.INFERENCE_DEFAULT_QUEUE)
