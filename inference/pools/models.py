import re

from django.core.exceptions import ValidationError
from django.db import models

ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


class WorkerPool(models.Model):
    """Workers subscribed to one Celery queue, hosting the models placed on it.

    A model placed on at least one enabled pool is served only by those pools' workers; a
    model placed nowhere goes to the default queue (one machine: every model there).
    """

    class Device(models.TextChoices):
        CPU = "cpu", "CPU"
        CUDA = "cuda", "CUDA GPU"

    class Backend(models.TextChoices):
        ENGINE = "engine", "Built-in engine (torch + transformers)"
        UPSTREAM = "upstream", "OpenAI-compatible upstream server"

    name = models.SlugField(max_length=64, unique=True)
    queue = models.CharField(
        max_length=100,
        unique=True,
        help_text="The Celery queue its workers consume (celery worker -Q <queue>).",
    )
    device_kind = models.CharField(max_length=8, choices=Device.choices, default=Device.CPU)
    memory_budget_mb = models.PositiveIntegerField(
        default=4096, help_text="Memory its workers may fill with model weights (engine backend)."
    )
    listings = models.ManyToManyField(
        "store.Listing",
        blank=True,
        related_name="worker_pools",
        verbose_name="models hosted",
    )
    enabled = models.BooleanField(
        default=True, help_text="Off: requests are no longer routed here."
    )
    backend = models.CharField(max_length=16, choices=Backend.choices, default=Backend.ENGINE)
    upstream_base_url = models.URLField(
        blank=True, help_text="e.g. http://gpu-node-1:8000/v1 (vLLM's OpenAI server)."
    )
    upstream_api_key_env = models.CharField(
        max_length=100,
        blank=True,
        help_text="Name of the environment variable holding the upstream's API key on the "
        "pool's workers (the key itself is never stored here).",
    )
    upstream_model = models.CharField(
        max_length=200,
        blank=True,
        help_text="The model name the upstream serves; blank: the store's model id.",
    )
    upstream_timeout_seconds = models.PositiveIntegerField(
        default=60, help_text="Longest silence from the upstream before the request fails."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "inference"
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.queue})"

    @property
    def memory_budget_bytes(self) -> int:
        return self.memory_budget_mb * 2**20

    def clean(self):
        errors = {}
        if self.backend == self.Backend.UPSTREAM and not self.upstream_base_url:
            errors["upstream_base_url"] = "An upstream pool needs the upstream's base URL."
        if self.upstream_api_key_env and not ENV_NAME.match(self.upstream_api_key_env):
            errors["upstream_api_key_env"] = (
                "An environment variable name: capitals, digits and underscores."
            )
        if self.queue and not re.match(r"^[A-Za-z0-9_.:-]+$", self.queue):
            errors["queue"] = "Letters, digits and . _ : - only."
        if errors:
            raise ValidationError(errors)
