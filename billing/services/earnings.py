"""Earnings writes: the publisher's share of each sale, reversed by a refund.

Invariant: at most one sale row and one refund row per order (unique constraint);
net = gross - fee; the fee is PLATFORM_FEE_PERCENT of the gross, rounded down.
"""

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from billing.models import (
    BuilderEarningsEntry,
    CreditHold,
    EarningsEntry,
    Order,
    UsageEarningsEntry,
)
from store.models import Gpt, Listing


def platform_fee(gross: int, percent: int | None = None) -> int:
    """The store's part of ``gross`` (cents or µ¢): PLATFORM_FEE_PERCENT rounded down, so a
    remainder goes to the publisher. The one place the fee is computed."""
    percent = settings.PLATFORM_FEE_PERCENT if percent is None else percent
    return gross * percent // 100


def earnings_split(gross: int, percent: int | None = None) -> dict[str, int]:
    """The amounts of one earnings row: ``gross``, the store's ``fee`` (platform_fee), the
    earner's ``net`` (the rest) and the ``fee_percent`` they were split at."""
    percent = settings.PLATFORM_FEE_PERCENT if percent is None else percent
    fee = platform_fee(gross, percent)
    return {"gross": gross, "fee": fee, "net": gross - fee, "fee_percent": percent}


def earnings_record_sale(*, order: Order) -> EarningsEntry | None:
    """Called inside the fulfilment transaction; grants (amount 0) earn nothing."""
    if order.amount <= 0:
        return None
    entry, _ = EarningsEntry.objects.get_or_create(
        order=order,
        kind=EarningsEntry.Kind.SALE,
        defaults={
            "publisher_id": order.listing.publisher_id,
            "listing_id": order.listing_id,
            "currency": order.currency,
            **earnings_split(order.amount),
        },
    )
    return entry


def earnings_record_refund(*, order: Order) -> EarningsEntry | None:
    """Reverses exactly what the sale credited (same fee percent as at the sale)."""
    sale = EarningsEntry.objects.filter(order=order, kind=EarningsEntry.Kind.SALE).first()
    if sale is None:
        return None
    entry, _ = EarningsEntry.objects.get_or_create(
        order=order,
        kind=EarningsEntry.Kind.REFUND,
        defaults={
            "publisher_id": sale.publisher_id,
            "listing_id": sale.listing_id,
            "gross": -sale.gross,
            "fee": -sale.fee,
            "net": -sale.net,
            "currency": sale.currency,
            "fee_percent": sale.fee_percent,
        },
    )
    return entry


def usage_earnings_roll_up(*, batch: int = 10_000) -> int:
    """Counts what customers spent per token into earnings: the settled credit holds not
    yet counted become one UsageEarningsEntry per listing for its publisher and, for GPTs'
    requests, one BuilderEarningsEntry per GPT for its builder (the markup part; the
    publisher gets the rest), fee rounded down to the µ¢ as for sales, each hold counted in
    exactly one pass. Holds being settled right now are skipped (SKIP LOCKED), and a GPT's
    hold whose markup part is not written yet waits; both are counted next time. Returns
    the number of entries made."""
    percent = settings.PLATFORM_FEE_PERCENT
    made = 0
    with transaction.atomic():
        holds = list(
            CreditHold.objects.select_for_update(skip_locked=True)
            .filter(status=CreditHold.Status.SETTLED, used__gt=0, earnings__isnull=True)
            .filter(Q(markup_per_mtok=0) | Q(markup_used__isnull=False))
            .order_by("id")
            .values_list("id", "listing_id", "used", "gpt_id", "markup_used")[:batch]
        )
        per_listing: dict[int, list[tuple[int, int]]] = {}
        per_gpt: dict[int, list[int]] = {}
        for hold_id, listing_id, used, gpt_id, markup in holds:
            per_listing.setdefault(listing_id, []).append((hold_id, used - (markup or 0)))
            if markup:
                per_gpt.setdefault(gpt_id, []).append(markup)
        publishers = dict(
            Listing.objects.filter(pk__in=per_listing).values_list("pk", "publisher_id")
        )
        for listing_id, rows in per_listing.items():
            entry = UsageEarningsEntry.objects.create(
                publisher_id=publishers[listing_id],
                listing_id=listing_id,
                requests=len(rows),
                **earnings_split(sum(used for _, used in rows), percent),
            )
            CreditHold.objects.filter(pk__in=[hold_id for hold_id, _ in rows]).update(
                earnings=entry
            )
            made += 1
        builders = dict(Gpt.objects.filter(pk__in=per_gpt).values_list("pk", "builder_id"))
        for gpt_id, parts in per_gpt.items():
            BuilderEarningsEntry.objects.create(
                builder_id=builders[gpt_id],
                gpt_id=gpt_id,
                requests=len(parts),
                **earnings_split(sum(parts), percent),
            )
            made += 1
    return made
