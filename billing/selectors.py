"""Billing reads: who may use or review a listing, balances, orders, usage and earnings."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from billing.models import (
    EarningsEntry,
    Entitlement,
    ListingTerms,
    Order,
    PriceOption,
    QuotaLedgerEntry,
    QuotaPack,
    TermsAcceptance,
)


@dataclass(frozen=True)
class Access:
    """How a customer may use a listing: owned ("purchase"), rented ("rental") or not at all.

    ``available_tokens`` is the spendable rental balance over the unexpired packs of that
    listing (0 for a purchase or no access).
    """

    kind: str | None
    available_tokens: int


def _anonymous(user) -> bool:
    return user is None or not getattr(user, "is_authenticated", False)


def live_packs(*, user, listing, now: datetime | None = None) -> QuerySet[QuotaPack]:
    """Packs that still count: not closed and not past their expiry, soonest expiry first."""
    now = now or timezone.now()
    return QuotaPack.objects.filter(
        user=user, listing=listing, closed_at__isnull=True, expires_at__gt=now
    ).order_by("expires_at", "id")


def has_entitlement(*, user, listing) -> bool:
    if _anonymous(user):
        return False
    return Entitlement.objects.filter(user=user, listing=listing, revoked_at__isnull=True).exists()


def access_for(*, user, listing) -> Access:
    """A purchase wins over rentals; a rental exists while an unexpired pack exists, even
    an exhausted one (the caller then answers "insufficient quota", not "no access")."""
    if _anonymous(user):
        return Access(kind=None, available_tokens=0)
    if has_entitlement(user=user, listing=listing):
        return Access(kind="purchase", available_tokens=0)
    totals = live_packs(user=user, listing=listing).aggregate(n=Count("id"), available=Sum("available"))
    if totals["n"]:
        return Access(kind="rental", available_tokens=int(totals["available"] or 0))
    return Access(kind=None, available_tokens=0)


def customer_can_review(*, user, listing) -> bool:
    """Verified buyers only: an active entitlement, or a rental pack with tokens really used."""
    if _anonymous(user):
        return False
    if has_entitlement(user=user, listing=listing):
        return True
    return QuotaLedgerEntry.objects.filter(
        pack__user=user, pack__listing=listing, kind=QuotaLedgerEntry.Kind.DEBIT
    ).exists()


def price_options_for(*, listing) -> list[PriceOption]:
    return list(PriceOption.objects.filter(listing=listing, active=True).order_by("kind", "amount", "id"))


def terms_for(*, listing) -> ListingTerms | None:
    return ListingTerms.objects.filter(listing=listing).first()


def terms_accepted(*, user, listing, terms: ListingTerms | None) -> bool:
    if terms is None:
        return True
    return TermsAcceptance.objects.filter(user=user, listing=listing, text_sha256=terms.text_sha256).exists()


def orders_for(*, user) -> QuerySet[Order]:
    return Order.objects.filter(user=user).select_related("listing__publisher").order_by("-created_at", "-id")


def order_for(*, user, number) -> Order | None:
    """The customer's own order (staff may read any); None for anybody else."""
    orders = Order.objects.select_related("listing__publisher", "user")
    if not (user.is_authenticated and user.is_staff):
        orders = orders.filter(user=user)
    return orders.filter(number=number).first()


def entitlements_for(*, user) -> QuerySet[Entitlement]:
    return (
        Entitlement.objects.filter(user=user, revoked_at__isnull=True)
        .select_related("listing__publisher", "order")
        .order_by("-created_at")
    )


def packs_for(*, user) -> QuerySet[QuotaPack]:
    """All the customer's packs, latest expiry first, each with ``used`` (tokens debited)."""
    return (
        QuotaPack.objects.filter(user=user)
        .select_related("listing__publisher", "order")
        .annotate(debited=Sum("ledger_entries__held_delta", filter=Q(ledger_entries__kind="debit")))
        .order_by("-expires_at", "-id")
    )
