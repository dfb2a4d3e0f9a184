from django.conf import settings
from django.db import models


class Listing(models.Model):
    """A model offered in the store by a publisher. Public only when approved."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PENDING = "pending", "Pending review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        DELISTED = "delisted", "Delisted"

    class Task(models.TextChoices):
        CHAT = "chat", "Chat"
        TEXT_GENERATION = "text-generation", "Text generation"
        CODE = "code", "Code"
        SUMMARIZATION = "summarization", "Summarization"
        TRANSLATION = "translation", "Translation"
        OTHER = "other", "Other"

    publisher = models.ForeignKey(
        "accounts.PublisherProfile", on_delete=models.PROTECT, related_name="listings"
    )
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=80)
    summary = models.CharField(max_length=300, blank=True)
    card_markdown = models.TextField(blank=True)
    task = models.CharField(max_length=32, choices=Task.choices, default=Task.CHAT)
    tags = models.JSONField(default=list, blank=True)
    license = models.CharField(max_length=64, default="apache-2.0")
    languages = models.JSONField(default=list, blank=True)
    conversation_starters = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    rejection_reason = models.TextField(blank=True)
    featured = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["publisher", "slug"], name="listing_slug_unique_per_publisher")
        ]
        indexes = [models.Index(fields=["status", "-created_at"])]

    def __str__(self):
        return self.model_id

    @property
    def model_id(self) -> str:
        """The id customers pass as ``model`` to the /v1 API."""
        return f"{self.publisher.slug}/{self.slug}"

    @property
    def is_public(self) -> bool:
        return self.status == self.Status.APPROVED


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
