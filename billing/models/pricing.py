from django.conf import settings
from django.db import models
from django.db.models import Q


def default_currency() -> str:
    return settings.STORE_CURRENCY


class PriceOption(models.Model):
    """Something a customer can pay for on a listing: the one-time purchase or a rental pack.

    Amounts are integers in the smallest currency unit. A price option that was ever
    ordered is never edited in place: the publisher deactivates it and adds a new one, so
    an order always points at the terms the customer paid for.
    """

    class Kind(models.TextChoices):
        PURCHASE = "purchase", "Purchase"
        RENTAL = "rental", "Rental pack"

    listing = models.ForeignKey(
        "store.Listing", on_delete=models.CASCADE, related_name="price_options"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount = models.PositiveIntegerField(help_text="In the smallest currency unit (cents).")
    currency = models.CharField(max_length=3, default=default_currency)
    tokens = models.PositiveBigIntegerField(null=True, blank=True, help_text="Rental packs only.")
    days = models.PositiveIntegerField(null=True, blank=True, help_text="Rental packs only.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["listing", "kind", "amount", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="price_option_amount_positive"),
            models.CheckConstraint(
                condition=(
                    Q(kind="purchase", tokens__isnull=True, days__isnull=True)
                    | Q(kind="rental", tokens__gt=0, days__gt=0)
                ),
                name="price_option_rental_terms",
            ),
            # One live purchase price per listing; rental packs may be several.
            models.UniqueConstraint(
                fields=["listing"],
                condition=Q(kind="purchase", active=True),
                name="one_active_purchase_price",
            ),
        ]

    def __str__(self):
        if self.kind == self.Kind.RENTAL:
            return f"{self.listing}: {self.tokens} tokens / {self.days} days for {self.amount} {self.currency}"
        return f"{self.listing}: purchase for {self.amount} {self.currency}"


class ListingTerms(models.Model):
    """Licence text a customer must accept before paying for a listing (optional per listing)."""

    listing = models.OneToOneField(
        "store.Listing", on_delete=models.CASCADE, related_name="purchase_terms"
    )
    text = models.TextField()
    text_sha256 = models.CharField(max_length=64)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"Terms of {self.listing}"


class TermsAcceptance(models.Model):
    """Who accepted which licence text (by hash), when, and for which order."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="terms_acceptances"
    )
    listing = models.ForeignKey(
        "store.Listing", on_delete=models.CASCADE, related_name="terms_acceptances"
    )
    text_sha256 = models.CharField(max_length=64)
    order = models.ForeignKey(
        "billing.Order",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="terms_acceptances",
    )
    accepted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-accepted_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "listing", "text_sha256"], name="terms_accepted_once_per_text"
            )
        ]

    def __str__(self):
        return f"{self.user} accepted the terms of {self.listing} ({self.text_sha256[:12]})"
