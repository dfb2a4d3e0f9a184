"""Credit top-ups: a customer buys credits by card (a Stripe PaymentIntent of its own).

A top-up is not an Order: it buys no listing, and what it adds is fungible credit, so a
refund can only take back what is left of the balance (billing.services.topups).
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from billing.models.credits import MICROCENTS_PER_CENT


class CreditTopUp(models.Model):
    """One card payment for credits, in whole cents of the store currency.

    ``refunded`` counts cents sent back to the card (including a refund in flight);
    ``removed`` the µ¢ taken off the balance for refunds and disputes. When part of a
    top-up was spent before its refund, ``removed`` is less than ``refunded`` in µ¢:
    the balance never goes below zero, and the difference is what the store gave back
    for credits already used (shown to staff as the shortfall).
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting payment"
        PAID = "paid", "Paid"
        FAILED = "failed", "Payment failed"
        CANCELLED = "cancelled", "Cancelled"
        PARTLY_REFUNDED = "partly_refunded", "Partly refunded"
        REFUNDED = "refunded", "Refunded"
        DISPUTED = "disputed", "Disputed"

    number = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="credit_topups"
    )
    amount = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    payment_intent_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    failure_message = models.CharField(max_length=500, blank=True)
    refunded = models.PositiveIntegerField(default=0)
    removed = models.BigIntegerField(default=0)
    # What a dispute took off the balance, given back if the dispute is won.
    dispute_removed = models.BigIntegerField(default=0)
    refund_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="credit_topup_amount_positive"),
            models.CheckConstraint(
                condition=Q(refunded__lte=models.F("amount")),
                name="credit_topup_refund_within_amount",
            ),
            models.UniqueConstraint(
                fields=["user", "amount"],
                condition=Q(status="pending"),
                name="one_pending_topup_per_amount",
            ),
        ]
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self):
        return f"Top-up {self.short_number} ({self.status})"

    @property
    def short_number(self) -> str:
        return self.number.hex[:10].upper()

    @property
    def shortfall(self) -> int:
        """µ¢ refunded to the card that were no longer in the balance (already spent)."""
        return max(0, self.refunded * MICROCENTS_PER_CENT - self.removed)

    @property
    def is_paid(self) -> bool:
        return self.status in {
            self.Status.PAID,
            self.Status.PARTLY_REFUNDED,
            self.Status.REFUNDED,
            self.Status.DISPUTED,
        }
