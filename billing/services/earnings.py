"""Earnings writes: the publisher's share of each sale, reversed by a refund.

Invariant: at most one sale row and one refund row per order (unique constraint);
net = gross - fee; the fee is PLATFORM_FEE_PERCENT of the gross, rounded down.
"""

from django.conf import settings

from billing.models import EarningsEntry, Order


def earnings_record_sale(*, order: Order) -> EarningsEntry | None:
    """Called inside the fulfilment transaction; grants (amount 0) earn nothing."""
    if order.amount <= 0:
        return None
    percent = settings.PLATFORM_FEE_PERCENT
    fee = order.amount * percent // 100
    entry, _ = EarningsEntry.objects.get_or_create(
        order=order,
        kind=EarningsEntry.Kind.SALE,
        defaults={
            "publisher_id": order.listing.publisher_id,
            "listing_id": order.listing_id,
            "gross": order.amount,
            "fee": fee,
            "net": order.amount - fee,
            "currency": order.currency,
            "fee_percent": percent,
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
