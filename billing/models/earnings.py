from django.db import models

from billing.models.append_only import AppendOnly


class EarningsEntry(AppendOnly):
    """A publisher's share of a sale (positive), of its refund or of a dispute (negative),
    given back when the dispute is won (positive). Immutable.

    ``gross`` is what the customer paid, ``fee`` the platform's share
    (settings.PLATFORM_FEE_PERCENT, rounded down: a remainder cent goes to the
    publisher) and ``net`` the rest.
    """

    class Kind(models.TextChoices):
        SALE = "sale", "Sale"
        REFUND = "refund", "Refund"
        DISPUTE = "dispute", "Dispute"
        DISPUTE_WON = "dispute_won", "Dispute won"

    publisher = models.ForeignKey(
        "accounts.PublisherProfile", on_delete=models.PROTECT, related_name="earnings_entries"
    )
    order = models.ForeignKey(
        "billing.Order", on_delete=models.PROTECT, related_name="earnings_entries"
    )
    listing = models.ForeignKey(
        "store.Listing", on_delete=models.PROTECT, related_name="earnings_entries"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    gross = models.BigIntegerField()
    fee = models.BigIntegerField()
    net = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    fee_percent = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "earnings entries"
        constraints = [
            models.UniqueConstraint(
                fields=["order", "kind"], name="earnings_once_per_order_and_kind"
            ),
            models.CheckConstraint(
                condition=models.Q(net=models.F("gross") - models.F("fee")),
                name="earnings_net_is_gross_minus_fee",
            ),
        ]

    def __str__(self):
        return f"{self.publisher}: {self.kind} {self.net} {self.currency}"


class StripeEvent(models.Model):
    """A webhook event we accepted; the unique id makes every event processed at most once."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self):
        return f"{self.type} {self.event_id}"
