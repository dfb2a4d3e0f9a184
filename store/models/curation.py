from django.conf import settings
from django.db import models

from store.models.listing import Listing


class ListingStatusChange(models.Model):
    """Audit log: every change of a listing's status, who made it, when, and why."""

    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="status_changes")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_status = models.CharField(max_length=16)
    to_status = models.CharField(max_length=16)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.listing}: {self.from_status} → {self.to_status}"


class Collection(models.Model):
    """A curated, ordered shelf of listings ("Coding helpers", "Small and fast") on the home page."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.CharField(max_length=300, blank=True)
    position = models.PositiveIntegerField(
        default=0, help_text="Lower comes first on the home page."
    )
    is_visible = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return self.name


class CollectionItem(models.Model):
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="items")
    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="collection_items")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["collection", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["collection", "listing"], name="collection_item_unique_listing"
            )
        ]

    def __str__(self):
        return f"{self.collection}: {self.listing}"


class ListingReport(models.Model):
    """A visitor's complaint about a listing; staff resolve or dismiss it."""

    class Reason(models.TextChoices):
        ILLEGAL = "illegal", "Illegal or harmful content"
        LICENSE = "license", "Licence or copyright problem"
        MISLEADING = "misleading", "Misleading description"
        MALWARE = "malware", "Broken or malicious files"
        SPAM = "spam", "Spam"
        OTHER = "other", "Something else"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"
        DISMISSED = "dismissed", "Dismissed"

    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="listing_reports",
    )
    reason = models.CharField(max_length=16, choices=Reason.choices)
    text = models.TextField(max_length=4000)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    resolution_note = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "-created_at"])]

    def __str__(self):
        return f"Report on {self.listing}: {self.get_reason_display()}"
