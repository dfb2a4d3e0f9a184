from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from store.models.listing import Listing


class Review(models.Model):
    """A customer's rating (1-5 stars) and opinion of a listing; one per customer and listing."""

    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="reviews")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reviews"
    )
    stars = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    text = models.TextField(blank=True, max_length=4000)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["listing", "author"], name="review_one_per_author"),
            models.CheckConstraint(
                condition=models.Q(stars__gte=1, stars__lte=5), name="review_stars_1_to_5"
            ),
        ]

    def __str__(self):
        return f"{self.author} on {self.listing}: {self.stars}★"
