from django.conf import settings
from django.db import models

from config.api_errors import ApplicationError
from store.models.listing import Listing

# What a ready version's users rely on; it never changes once the version is ready.
FROZEN_VERSION_FIELDS = (
    "listing_id", "number", "source_format", "status", "storage_path", "size_bytes",
    "architecture", "parameter_count", "context_length", "vocab_size", "dtype", "has_chat_template",
    "serving_precision",
)  # fmt: skip


class ImmutableVersion(ApplicationError):
    def __init__(
        self,
        message: str = "A processed (ready) version is immutable: upload a new version instead.",
    ):
        super().__init__(message, code="version_immutable", status=409)


class ListingVersion(models.Model):
    """One upload of weights for a listing. Immutable once processed (status ready)."""

    class Status(models.TextChoices):
        UPLOADED = "uploaded", "Uploaded"
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    class Format(models.TextChoices):
        SAFETENSORS = "safetensors", "safetensors"
        GGUF = "gguf", "GGUF"

    class Precision(models.TextChoices):
        # inference/engine/packing.py; on a CPU without native bfloat16, and on CUDA (which
        # has its own dtype), every version is served as float32 / the device's dtype.
        FLOAT32 = "float32", "float32 (exact)"
        BFLOAT16 = "bfloat16", "bfloat16 (half the bytes per token)"
        INT8 = "int8", "int8 weights (a quarter of the bytes per token)"

    class Review(models.TextChoices):
        AWAITING = "awaiting", "Awaiting review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    source_format = models.CharField(max_length=16, choices=Format.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UPLOADED)
    progress = models.PositiveSmallIntegerField(default=0)
    progress_message = models.CharField(max_length=200, blank=True)
    processing_report = models.JSONField(default=dict, blank=True)
    error_message = models.TextField(blank=True)
    # Folder (relative to MEDIA_ROOT) holding the loadable model: config, tokenizer, safetensors.
    storage_path = models.CharField(max_length=500, blank=True)
    architecture = models.CharField(max_length=100, blank=True)
    parameter_count = models.BigIntegerField(null=True, blank=True)
    context_length = models.PositiveIntegerField(null=True, blank=True)
    vocab_size = models.PositiveIntegerField(null=True, blank=True)
    dtype = models.CharField(max_length=32, blank=True)
    has_chat_template = models.BooleanField(default=False)
    # Chosen by the publisher at upload: how the CPU workers hold the linear weights.
    serving_precision = models.CharField(
        max_length=16, choices=Precision.choices, default=Precision.FLOAT32
    )
    size_bytes = models.BigIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # Curation of the weights themselves (store.services.version_review): a version is served,
    # listed and downloadable only once approved (store.selectors.live_versions). Approving a
    # listing approves its ready versions; a new version of an approved listing waits for its
    # own review while the previous approved one stays served.
    review = models.CharField(max_length=16, choices=Review.choices, default=Review.AWAITING)
    review_reason = models.TextField(blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["listing", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["listing", "number"], name="version_number_unique_per_listing"
            )
        ]
        indexes = [models.Index(fields=["review", "status"], name="version_review_status")]

    def __str__(self):
        return f"{self.listing} v{self.number}"

    def save(self, *args, **kwargs):
        loaded = getattr(self, "_frozen_as_loaded", {})
        if loaded.get("status") == self.Status.READY and any(
            getattr(self, name) != value for name, value in loaded.items()
        ):
            raise ImmutableVersion()
        super().save(*args, **kwargs)
        self._frozen_as_loaded = {name: getattr(self, name) for name in FROZEN_VERSION_FIELDS}

    def delete(self, *args, **kwargs):
        if self.status == self.Status.READY:
            raise ImmutableVersion("A ready version cannot be deleted: buyers may rely on it.")
        return super().delete(*args, **kwargs)

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._frozen_as_loaded = {
            name: getattr(instance, name)
            for name in FROZEN_VERSION_FIELDS
            if name in instance.__dict__
        }
        return instance


class WeightFile(models.Model):
    """A file of a processed version, with its checksum, as buyers download it."""

    version = models.ForeignKey(ListingVersion, on_delete=models.CASCADE, related_name="files")
    path = models.CharField(max_length=300, help_text="Path inside the model folder.")
    size_bytes = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    download_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["version", "path"]
        constraints = [
            models.UniqueConstraint(fields=["version", "path"], name="weight_file_unique_path")
        ]

    def __str__(self):
        return f"{self.version}: {self.path}"

    def save(self, *args, **kwargs):
        # Counting downloads is the one change a ready version's files accept.
        update_fields = kwargs.get("update_fields")
        counting_only = update_fields is not None and set(update_fields) <= {"download_count"}
        if not counting_only and self.version.status == ListingVersion.Status.READY:
            raise ImmutableVersion()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.version.status == ListingVersion.Status.READY:
            raise ImmutableVersion()
        return super().delete(*args, **kwargs)
