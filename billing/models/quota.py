from django.conf import settings
from django.db import models
from django.db.models import Q

from billing.models.append_only import AppendOnly


class QuotaPack(models.Model):
    """Tokens a customer may spend on one listing until ``expires_at``.

    ``available`` and ``held`` are running totals of the pack's ledger rows, kept in the
    same transaction as each row so a hold can lock and read one row; the check
    constraints make a negative balance impossible even if a service had a bug.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quota_packs"
    )
    listing = models.ForeignKey(
        "store.Listing", on_delete=models.CASCADE, related_name="quota_packs"
    )
    order = models.OneToOneField(
        "billing.Order", on_delete=models.PROTECT, related_name="quota_pack"
    )
    tokens = models.PositiveBigIntegerField()
    available = models.BigIntegerField(default=0)
    held = models.BigIntegerField(default=0)
    expires_at = models.DateTimeField()
    # Set when the pack stops counting: its expiry passed (expired) or its order was refunded.
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["expires_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(available__gte=0), name="quota_pack_available_not_negative"
            ),
            models.CheckConstraint(condition=Q(held__gte=0), name="quota_pack_held_not_negative"),
        ]
        indexes = [models.Index(fields=["user", "listing", "expires_at"])]

    def __str__(self):
        return f"{self.user} · {self.listing}: {self.available}/{self.tokens} until {self.expires_at:%Y-%m-%d}"


class QuotaHold(models.Model):
    """Tokens reserved for one inference request until it settles or is released."""

    class Status(models.TextChoices):
        HELD = "held", "Held"
        SETTLED = "settled", "Settled"
        RELEASED = "released", "Released"

    request_id = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quota_holds"
    )
    listing = models.ForeignKey(
        "store.Listing", on_delete=models.CASCADE, related_name="quota_holds"
    )
    tokens = models.PositiveBigIntegerField()
    used_tokens = models.PositiveBigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.HELD)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self):
        return f"hold {self.request_id}: {self.tokens} ({self.status})"


class QuotaLedgerEntry(AppendOnly):
    """An immutable change of one pack's balances.

    ``available_delta`` moves spendable tokens, ``held_delta`` reserved ones: a credit or
    grant adds to available; a hold moves available → held; a release moves held →
    available; a debit removes held (the tokens were used); expire and refund remove
    what is left of available. A pack's balances are the sums of its rows.
    """

    class Kind(models.TextChoices):
        CREDIT = "credit", "Credit"
        HOLD = "hold", "Hold"
        RELEASE = "release", "Release"
        DEBIT = "debit", "Debit"
        EXPIRE = "expire", "Expire"
        REFUND = "refund", "Refund"

    pack = models.ForeignKey(QuotaPack, on_delete=models.PROTECT, related_name="ledger_entries")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # sale | grant for credits; the hold's request for hold/release/debit.
    reason = models.CharField(max_length=32, blank=True)
    available_delta = models.BigIntegerField()
    held_delta = models.BigIntegerField(default=0)
    hold = models.ForeignKey(
        QuotaHold, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "quota ledger entries"
        constraints = [
            models.CheckConstraint(
                condition=~Q(available_delta=0) | ~Q(held_delta=0),
                name="quota_ledger_entry_moves_tokens",
            )
        ]

    def __str__(self):
        return f"{self.kind} {self.available_delta:+d}/{self.held_delta:+d} on pack {self.pack_id}"
