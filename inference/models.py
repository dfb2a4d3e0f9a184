import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


class UsageRecord(models.Model):
    """One completed (or failed, or cancelled) generation request and what it cost."""

    class Source(models.TextChoices):
        API = "api", "API"
        PLAYGROUND = "playground", "Playground"
        GPT_CHAT = "gpt_chat", "GPT chat"

    class Access(models.TextChoices):
        PURCHASE = "purchase", "Purchase"
        RENTAL = "rental", "Rental quota"
        CREDITS = "credits", "Credits"

    request_id = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usage_records"
    )
    api_key = models.ForeignKey(
        "accounts.ApiKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="usage_records",
    )
    listing = models.ForeignKey(
        "store.Listing", on_delete=models.PROTECT, related_name="usage_records"
    )
    version = models.ForeignKey(
        "store.ListingVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A GPT's request (store/gpts): the GPT and the published revision that answered.
    gpt = models.ForeignKey(
        "store.Gpt", null=True, blank=True, on_delete=models.SET_NULL, related_name="usage_records"
    )
    gpt_revision = models.ForeignKey(
        "store.GptRevision", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.API)
    access = models.CharField(max_length=16, choices=Access.choices)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    charged_tokens = models.PositiveIntegerField(default=0)
    # Paid from credits: what the request cost, in µ¢ (billing.models.credits).
    cost = models.BigIntegerField(default=0)
    finish_reason = models.CharField(max_length=16, blank=True)
    status = models.CharField(max_length=16, default="ok")  # ok | cancelled | error
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "-created_at"]),
            models.Index(fields=["listing", "-created_at"]),
        ]

    def __str__(self):
        return f"{self.request_id} {self.listing_id} {self.prompt_tokens}+{self.completion_tokens}"

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class BlockedPattern(models.Model):
    """A staff-kept content safeguard: prompts matching it are refused (400 content_policy_violation).

    ``match_count`` and ``last_matched_at`` are bumped with an F() update on every refusal so
    staff see which patterns fire without a log table growing per request.
    """

    pattern = models.CharField(max_length=500)
    is_regex = models.BooleanField(
        default=False, help_text="Off: a plain, case-insensitive substring."
    )
    reason = models.CharField(
        max_length=200, blank=True, help_text="Shown to the customer in the error."
    )
    active = models.BooleanField(default=True)
    match_count = models.PositiveIntegerField(default=0, editable=False)
    last_matched_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-active", "pattern"]

    def __str__(self):
        return f"{'/' + self.pattern + '/' if self.is_regex else self.pattern}"

    def clean(self):
        if self.is_regex:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValidationError(
                    {"pattern": f"Not a valid regular expression: {exc}"}
                ) from exc


# Models of the app's packages, registered with this app.
from inference.monitoring.models import GenerationTiming  # noqa: E402
from inference.pools.models import WorkerPool  # noqa: E402
from inference.training.models import (  # noqa: E402
    FineTunedModel,
    FineTunedWeightFile,
    FineTuningCheckpoint,
    FineTuningEvent,
    FineTuningJob,
    FineTuningTerms,
    TrainingFile,
)

__all__ = [
    "BlockedPattern",
    "FineTunedModel",
    "FineTunedWeightFile",
    "FineTuningCheckpoint",
    "FineTuningEvent",
    "FineTuningJob",
    "FineTuningTerms",
    "GenerationTiming",
    "TrainingFile",
    "UsageRecord",
    "WorkerPool",
]
