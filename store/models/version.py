from django.conf import settings
from django.db import models

from store.models.listing import Listing


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
    size_bytes = models.BigIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["listing", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["listing", "number"], name="version_number_unique_per_listing")
        ]

    def __str__(self):
        return f"{self.listing} v{self.number}"


class WeightFile(models.Model):
    """A file of a processed version, with its checksum, as buyers download it."""

    version = models.ForeignKey(ListingVersion, on_delete=models.CASCADE, related_name="files")
    path = models.CharField(max_length=300, help_text="Path inside the model folder.")
    size_bytes = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    download_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["version", "path"]
        constraints = [models.UniqueConstraint(fields=["version", "path"], name="weight_file_unique_path")]

    def __str__(self):
        return f"{self.version}: {self.path}"
