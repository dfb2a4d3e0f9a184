from django.db import models


class GenerationTiming(models.Model):
    """How one answer went, as the API read it: the publisher's monitoring page aggregates these.

    Written once per answer by inference/monitoring/observer.py, apart from the UsageRecord
    (billing's row) so that timing never sits on the settlement's path.
    """

    class Outcome(models.TextChoices):
        OK = "ok", "Answered"
        CANCELLED = "cancelled", "Cancelled"
        ERROR = "error", "Error"
        LOST = "lost", "Worker lost"
        TIMEOUT = "timeout", "Timed out"
        ABANDONED = "abandoned", "Client gone"

    request_id = models.CharField(max_length=64, unique=True)
    listing = models.ForeignKey(
        "store.Listing", on_delete=models.CASCADE, related_name="generation_timings"
    )
    queue = models.CharField(max_length=100, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    error_code = models.CharField(max_length=64, blank=True)
    completion_tokens = models.PositiveIntegerField(default=0)
    first_token_ms = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "inference"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["listing", "created_at"])]

    def __str__(self):
        return f"{self.request_id} {self.outcome} {self.first_token_ms} ms"

    @property
    def is_error(self) -> bool:
        return self.outcome in (self.Outcome.ERROR, self.Outcome.LOST, self.Outcome.TIMEOUT)
