"""Fine-tuning: training files, jobs with their events and checkpoints, the private models
they make, and the terms on which a publisher lets customers fine-tune a listing.

The objects mirror OpenAI's (File, fine_tuning.job, its events and checkpoints), and their
public ids have OpenAI's prefixes ("file-", "ftjob-", "ftevent-", "ftckpt-"); database ids
never leave the store.
"""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q


def public_id(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(12)}"


class FineTuningTerms(models.Model):
    """A publisher's terms for fine-tuning their listing: whether customers may, at what
    price per 1M training tokens (cents, which is µ¢ per token), and whether the models
    derived from it may be published as listings of their own."""

    listing = models.OneToOneField(
        "store.Listing", on_delete=models.CASCADE, related_name="fine_tuning_terms"
    )
    allowed = models.BooleanField(default=False)
    price_per_mtok = models.PositiveBigIntegerField(default=0)
    derived_publishable = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"fine-tuning terms of {self.listing_id}"


class TrainingFile(models.Model):
    """An uploaded JSONL file with purpose "fine-tune", checked line by line on upload."""

    class Format(models.TextChoices):
        CHAT = "chat", "Chat messages"
        COMPLETION = "completion", "Prompt and completion"

    public_id = models.CharField(max_length=40, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="training_files"
    )
    filename = models.CharField(max_length=255)
    purpose = models.CharField(max_length=32, default="fine-tune")
    bytes = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    # Relative to MEDIA_ROOT.
    storage_path = models.CharField(max_length=500)
    format = models.CharField(max_length=16, choices=Format.choices)
    examples = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self):
        return f"{self.public_id} {self.filename}"


class FineTuningJob(models.Model):
    """One training run of a base model on a customer's file, billed from their credits:
    ``held`` µ¢ reserved at creation (hold ``hold_request_id``), settled when it ends."""

    class Status(models.TextChoices):
        VALIDATING_FILES = "validating_files", "Validating files"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE = (Status.VALIDATING_FILES, Status.QUEUED, Status.RUNNING)

    public_id = models.CharField(max_length=40, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="fine_tuning_jobs"
    )
    base_listing = models.ForeignKey("store.Listing", on_delete=models.PROTECT, related_name="+")
    base_version = models.ForeignKey(
        "store.ListingVersion", on_delete=models.PROTECT, related_name="+"
    )
    training_file = models.ForeignKey(TrainingFile, on_delete=models.PROTECT, related_name="+")
    validation_file = models.ForeignKey(
        TrainingFile, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    n_epochs = models.PositiveSmallIntegerField()
    batch_size = models.PositiveSmallIntegerField()
    learning_rate_multiplier = models.FloatField()
    seed = models.BigIntegerField()
    suffix = models.CharField(max_length=40, blank=True)
    checkpoint_every = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    error_param = models.CharField(max_length=64, blank=True)
    # Billable tokens of one pass over the training file; the run trains n_epochs passes.
    training_tokens = models.BigIntegerField()
    examples = models.PositiveIntegerField()
    total_steps = models.PositiveIntegerField()
    steps_done = models.PositiveIntegerField(default=0)
    trained_tokens = models.BigIntegerField(default=0)
    # µ¢ per training token (cents per 1M), recorded at creation; what was held and charged.
    price_per_mtok = models.PositiveBigIntegerField()
    held = models.BigIntegerField()
    charged = models.BigIntegerField(null=True, blank=True)
    hold_request_id = models.CharField(max_length=64, unique=True)
    # The worker running it: renews heartbeat_at at every step (its lease).
    runner = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    estimated_finish = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at"]),
            models.Index(fields=["status", "heartbeat_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(charged__isnull=True) | Q(charged__lte=models.F("held")),
                name="fine_tuning_job_charges_at_most_held",
            )
        ]

    def __str__(self):
        return f"{self.public_id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class FineTuningEvent(models.Model):
    """A line of a job's log: a message, or a step's metrics (type "metrics", data = step,
    total_steps, train_loss, valid_loss, tokens_per_second, eta_seconds)."""

    public_id = models.CharField(max_length=40, unique=True)
    job = models.ForeignKey(FineTuningJob, on_delete=models.CASCADE, related_name="events")
    level = models.CharField(max_length=8, default="info")
    type = models.CharField(max_length=16, default="message")
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"{self.job_id}: {self.message}"


class FineTuningCheckpoint(models.Model):
    """The adapters and optimizer state after ``step`` steps: a redelivered job resumes here."""

    public_id = models.CharField(max_length=40, unique=True)
    job = models.ForeignKey(FineTuningJob, on_delete=models.CASCADE, related_name="checkpoints")
    step = models.PositiveIntegerField()
    trained_tokens = models.BigIntegerField()
    metrics = models.JSONField(default=dict, blank=True)
    storage_path = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-step"]
        constraints = [
            models.UniqueConstraint(fields=["job", "step"], name="fine_tuning_checkpoint_step")
        ]

    def __str__(self):
        return f"{self.job_id} @ {self.step}"


class FineTunedModel(models.Model):
    """A finished job's model: the base with the adapters merged in, private to its owner,
    immutable (a new job makes a new model). Served by the normal engine from
    ``storage_path`` on the base listing's terms; ``model_id`` is OpenAI's "ft:" form."""

    model_id = models.CharField(max_length=300, unique=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="fine_tuned_models"
    )
    job = models.OneToOneField(
        FineTuningJob, on_delete=models.PROTECT, related_name="fine_tuned_model"
    )
    base_listing = models.ForeignKey("store.Listing", on_delete=models.PROTECT, related_name="+")
    base_version = models.ForeignKey(
        "store.ListingVersion", on_delete=models.PROTECT, related_name="+"
    )
    storage_path = models.CharField(max_length=500)
    context_length = models.PositiveIntegerField(null=True, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.model_id


class FineTunedWeightFile(models.Model):
    """A file of a fine-tuned model's folder, with its checksum, as its owner downloads it."""

    model = models.ForeignKey(FineTunedModel, on_delete=models.CASCADE, related_name="files")
    path = models.CharField(max_length=300)
    size_bytes = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["model", "path"]
        constraints = [
            models.UniqueConstraint(fields=["model", "path"], name="fine_tuned_file_unique_path")
        ]

    def __str__(self):
        return f"{self.model_id}: {self.path}"
