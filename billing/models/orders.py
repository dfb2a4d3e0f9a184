import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class Order(models.Model):
    """One attempt to pay for a price option (or a staff grant of one, with amount 0).

    The price option's terms are copied onto the order, so later price edits never
    change what a customer bought. One pending order per customer and price option:
    a double click or a reload of the checkout page finds the same order again.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting payment"
        PAID = "paid", "Paid"
        FAILED = "failed", "Payment failed"
        REFUNDED = "refunded", "Refunded"
        CANCELLED = "cancelled", "Cancelled"
        DISPUTED = "disputed", "Disputed"

    class Reason(models.TextChoices):
        SALE = "sale", "Sale"
        GRANT = "grant", "Grant"

    number = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders"
    )
    listing = models.ForeignKey("store.Listing", on_delete=models.PROTECT, related_name="orders")
    price_option = models.ForeignKey(
        "billing.PriceOption",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
    )
    kind = models.CharField(
        max_length=16, choices=[("purchase", "Purchase"), ("rental", "Rental pack")]
    )
    reason = models.CharField(max_length=16, choices=Reason.choices, default=Reason.SALE)
    amount = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    tokens = models.PositiveBigIntegerField(null=True, blank=True)
    days = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    payment_intent_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    failure_message = models.CharField(max_length=500, blank=True)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    refund_id = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "price_option"],
                condition=Q(status="pending"),
                name="one_pending_order_per_price_option",
            ),
            models.CheckConstraint(
                condition=Q(reason="grant") | Q(amount__gt=0), name="order_sale_amount_positive"
            ),
        ]
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self):
        return f"Order {self.short_number} ({self.status})"

    @property
    def short_number(self) -> str:
        return self.number.hex[:10].upper()

    @property
    def is_rental(self) -> bool:
        return self.kind == "rental"


class Entitlement(models.Model):
    """A customer owns a listing: downloads and unlimited inference. Revoked by a refund."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="entitlements"
    )
    listing = models.ForeignKey(
        "store.Listing", on_delete=models.CASCADE, related_name="entitlements"
    )
    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="entitlement")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "listing"],
                condition=Q(revoked_at__isnull=True),
                name="one_active_entitlement",
            )
        ]

    def __str__(self):
        return f"{self.user} owns {self.listing}"
