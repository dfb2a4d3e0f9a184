from django.apps import AppConfig


class InferenceConfig(AppConfig):
    name = "inference"
    verbose_name = "Inference"

    def ready(self):
        # Connects the worker_ready handler that warms the models of a worker's pools. It
        # reads models, so it is imported once the app registry is ready, not by config/celery.py
        # (which Django imports with the settings).
        from inference.pools import warmup  # noqa: F401
