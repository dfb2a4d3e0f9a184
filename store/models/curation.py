from django.conf import settings
from django.db import models

from store.models.listing import Listing


class ListingStatusChange(models.Model):
    """Audit log: every change of a listing's status, who made it, when, and why."""

    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="status_changes")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    from_status = models.CharField(max_length=16)
    to_status = models.CharField(max_length=16)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.listing}: {self.from_status} → {self.to_status}"
