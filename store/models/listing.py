from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.urls import reverse


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
    # Lineage: set when the listing was published from a fine-tuned model (inference.training),
    # the base listing and the version its weights were trained from. Never edited afterwards.
    fine_tuned_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="derived_listings",
        editable=False,
    )
    fine_tuned_from_version = models.ForeignKey(
        "store.ListingVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    # Kept by a PostgreSQL trigger (see migration 0002): name A, summary and tags B, card C.
    # A trigger rather than a service so that every write path (admin, bulk_create, raw SQL)
    # keeps it current at no extra query.
    search_vector = SearchVectorField(null=True, editable=False)
    # Name A, summary and tags B only (no card), kept by the same trigger (migration 0005) and
    # stored inline: ranking reads it for every match, where the full vector, out of line,
    # would be fetched from TOAST row by row. The full vector still does the matching (GIN).
    search_rank_vector = SearchVectorField(null=True, editable=False)
    # Denormalised by store.services.review_* so that sorting 100k listings by rating
    # does not aggregate every review on every page.
    rating_average = models.FloatField(null=True, blank=True, editable=False)
    review_count = models.PositiveIntegerField(default=0, editable=False)
    # Catalog facts copied onto the listing so that filtering and sorting 100k listings reads one
    # indexed row each, never a correlated subquery per row (migration 0003):
    # - the latest ready version's format and size, kept by a trigger on store_listingversion;
    # - the lowest active price in cents, kept by a trigger on billing_priceoption;
    # - uses in the last 7 days, refreshed every few minutes by store.services.listing_usage_refresh.
    ready_format = models.CharField(max_length=16, blank=True, editable=False)
    ready_parameter_count = models.BigIntegerField(null=True, blank=True, editable=False)
    min_price = models.PositiveIntegerField(null=True, blank=True, editable=False)
    recent_uses = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["publisher", "slug"], name="listing_slug_unique_per_publisher"
            )
        ]
        indexes = [models.Index(fields=["status", "-created_at"])]

    def __str__(self):
        return self.model_id

    def get_absolute_url(self) -> str:
        return reverse("listing_detail", args=[self.publisher.slug, self.slug])

    @property
    def model_id(self) -> str:
        """The id customers pass as ``model`` to the /v1 API."""
        return f"{self.publisher.slug}/{self.slug}"

    @property
    def is_public(self) -> bool:
        return self.status == self.Status.APPROVED
