"""Pay per token: a listing's token prices and each account's credit balance.

Money here is in microcents (µ¢, a millionth of a cent, MICROCENTS_PER_CENT): a token price
is set in cents per million tokens, which is exactly µ¢ per token, so the cost of any request
(prompt tokens × input price + completion tokens × output price) is an exact integer with no
rounding at all. Cents appear only at the edges (top-ups, display, payouts), converted by
billing.money (docs/BILLING.md, "Pay per token").
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from billing.models.append_only import AppendOnly

MICROCENTS_PER_CENT = 1_000_000


class TokenPrice(models.Model):
    """A listing's price per token, append-only: its newest row is the price; a request
    pays the row that was newest when it was admitted (the row is recorded on its hold)."""

    listing = models.ForeignKey(
        "store.Listing", on_delete=models.CASCADE, related_name="token_prices"
    )
    # Cents per 1M tokens, which is µ¢ per token. Zero: free.
    input_per_mtok = models.PositiveBigIntegerField()
    output_per_mtok = models.PositiveBigIntegerField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["listing", "-created_at", "-id"])]

    def __str__(self):
        return f"{self.listing_id}: {self.input_per_mtok}/{self.output_per_mtok} ¢ per 1M tokens"

    @property
    def free(self) -> bool:
        return self.input_per_mtok == 0 and self.output_per_mtok == 0


class CreditAccount(models.Model):
    """One customer's credit balance in µ¢: the running totals of its ledger rows."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="credit_account"
    )
    available = models.BigIntegerField(default=0)
    held = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(available__gte=0), name="credit_account_available_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(held__gte=0), name="credit_account_held_not_negative"
            ),
        ]

    def __str__(self):
        return f"credits of {self.user_id}: {self.available} µ¢ (+{self.held} held)"


class CreditHold(models.Model):
    """The most one request may cost, reserved until it settles or is released; with the
    token prices it was admitted at."""

    class Status(models.TextChoices):
        HELD = "held", "Held"
        SETTLED = "settled", "Settled"
        RELEASED = "released", "Released"

    class Purpose(models.TextChoices):
        COMPLETION = "completion", "Completion request"
        TRAINING = "training", "Fine-tuning job"

    request_id = models.CharField(max_length=64, unique=True)
    account = models.ForeignKey(CreditAccount, on_delete=models.PROTECT, related_name="holds")
    listing = models.ForeignKey("store.Listing", on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField()
    used = models.BigIntegerField(null=True, blank=True)
    input_per_mtok = models.PositiveBigIntegerField()
    output_per_mtok = models.PositiveBigIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.HELD)
    # A training job's hold lives as long as the job (hours): the stale-hold sweep, meant for
    # requests that died, leaves it to inference/training's upkeep.
    purpose = models.CharField(
        max_length=16, choices=Purpose.choices, default=Purpose.COMPLETION, db_default="completion"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The API key that made the request and the month its spend counts in (KeySpend).
    api_key = models.ForeignKey(
        "accounts.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    key_month = models.DateField(null=True, blank=True)
    # A GPT's request (store/gpts): the builder's markup per token on top of the base model's
    # prices, and, once settled, the part of ``used`` that is the builder's (the rest is the
    # base model publisher's). Earnings count a GPT's hold only once markup_used is written.
    gpt = models.ForeignKey(
        "store.Gpt", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    markup_per_mtok = models.PositiveBigIntegerField(default=0, db_default=0)
    markup_used = models.BigIntegerField(null=True, blank=True)
    # Set when the hold's spend is counted in its publisher's usage earnings.
    earnings = models.ForeignKey(
        "billing.UsageEarningsEntry",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="holds",
    )

    class Meta:
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(
                fields=["listing"],
                condition=Q(status="settled", used__gt=0, earnings__isnull=True),
                name="credit_hold_unearned",
            ),
        ]

    def __str__(self):
        return f"credit hold {self.request_id}: {self.amount} µ¢ ({self.status})"


class KeySpend(models.Model):
    """What one API key spent (and holds) in credits in one UTC calendar month, µ¢: counted
    in the same transaction as each credit hold and corrected when the hold finishes, so a
    key's monthly spending limit is enforced at admission, never after the fact."""

    api_key = models.ForeignKey("accounts.ApiKey", on_delete=models.CASCADE, related_name="+")
    month = models.DateField()
    spent = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "month"], name="one_key_spend_per_month"),
            models.CheckConstraint(condition=Q(spent__gte=0), name="key_spend_not_negative"),
        ]

    def __str__(self):
        return f"key {self.api_key_id} in {self.month:%Y-%m}: {self.spent} µ¢"


class CreditLedgerEntry(AppendOnly):
    """An immutable change of one account's balances (µ¢), like the quota ledger's rows:
    a top-up or grant adds to available, a hold moves available → held, a release moves it
    back, a debit removes held (spent), a refund removes available (a refunded or disputed
    top-up), a restore gives it back (a refund Stripe refused, a dispute won)."""

    class Kind(models.TextChoices):
        TOPUP = "topup", "Top-up"
        GRANT = "grant", "Grant"
        HOLD = "hold", "Hold"
        RELEASE = "release", "Release"
        DEBIT = "debit", "Debit"
        REFUND = "refund", "Refund"
        RESTORE = "restore", "Restored"

    account = models.ForeignKey(
        CreditAccount, on_delete=models.PROTECT, related_name="ledger_entries"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    reason = models.CharField(max_length=200, blank=True)
    available_delta = models.BigIntegerField()
    held_delta = models.BigIntegerField(default=0)
    hold = models.ForeignKey(
        CreditHold, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries"
    )
    topup = models.ForeignKey(
        "billing.CreditTopUp",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_entries",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "credit ledger entries"
        constraints = [
            models.CheckConstraint(
                condition=~Q(available_delta=0) | ~Q(held_delta=0),
                name="credit_ledger_entry_moves_money",
            )
        ]

    def __str__(self):
        return f"{self.kind} {self.available_delta:+d}/{self.held_delta:+d} µ¢ on {self.account_id}"


class EarningsRoll(AppendOnly):
    """One roll-up of earnings (µ¢): ``requests`` settled holds, their ``gross``, the platform
    ``fee`` (``fee_percent`` of gross, rounded down; billing.services.earnings) and the
    ``net`` paid out. The earner and what was earned on are the subclass's."""

    requests = models.PositiveIntegerField()
    gross = models.BigIntegerField()
    fee = models.BigIntegerField()
    net = models.BigIntegerField()
    fee_percent = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]


class UsageEarningsEntry(EarningsRoll):
    """A publisher's share of what customers spent per token on one listing, rolled up from
    settled credit holds (each hold counted in exactly one entry). Immutable; µ¢.

    ``fee`` is PLATFORM_FEE_PERCENT of ``gross`` rounded down to the µ¢ (the remainder goes to
    the publisher, as with sales); ``net`` the rest.
    """

    publisher = models.ForeignKey(
        "accounts.PublisherProfile", on_delete=models.PROTECT, related_name="usage_earnings"
    )
    listing = models.ForeignKey(
        "store.Listing", on_delete=models.PROTECT, related_name="usage_earnings"
    )

    class Meta(EarningsRoll.Meta):
        verbose_name_plural = "usage earnings entries"
        constraints = [
            models.CheckConstraint(
                condition=Q(net=models.F("gross") - models.F("fee")),
                name="usage_earnings_net_is_gross_minus_fee",
            )
        ]

    def __str__(self):
        return (
            f"{self.publisher_id} · {self.listing_id}: {self.net} µ¢ from {self.requests} requests"
        )


class BuilderEarningsEntry(EarningsRoll):
    """A GPT builder's share of what customers spent on one GPT: the markup part of settled
    credit holds (each counted once, with the publisher's part in UsageEarningsEntry).
    Immutable; µ¢; the same fee rule as every other earning."""

    builder = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="builder_earnings"
    )
    gpt = models.ForeignKey("store.Gpt", on_delete=models.PROTECT, related_name="earnings")

    class Meta(EarningsRoll.Meta):
        verbose_name_plural = "builder earnings entries"
        constraints = [
            models.CheckConstraint(
                condition=Q(net=models.F("gross") - models.F("fee")),
                name="builder_earnings_net_is_gross_minus_fee",
            )
        ]

    def __str__(self):
        return f"{self.builder_id} · {self.gpt_id}: {self.net} µ¢ from {self.requests} requests"
