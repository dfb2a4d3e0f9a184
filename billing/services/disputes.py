"""Card disputes (chargebacks): access and earnings follow the money.

Invariants:
- a dispute opened on a paid order suspends what it paid for (the entitlement is revoked,
  what is left of the pack taken back) and reverses the publisher's earnings, once;
- a dispute won gives back exactly that, once; a dispute lost leaves it taken;
- events may come in any order and any number of times: a dispute already won (its
  ``charge.dispute.closed`` or ``funds_reinstated`` was processed) is not opened again.
"""

import logging

from django.db import transaction
from django.utils import timezone

from billing.models import EarningsEntry, Entitlement, Order, StripeEvent
from billing.services.quota import quota_pack_restore, quota_pack_revoke

log = logging.getLogger(__name__)
S = Order.Status
DISPUTE = "dispute"
WON_EVENTS = ("charge.dispute.funds_reinstated",)


def _won_already(dispute_id: str) -> bool:
    """Whether this dispute was won by an event processed before (events out of order)."""
    seen = StripeEvent.objects.filter(payload__data__object__id=dispute_id)
    return (
        seen.filter(type__in=WON_EVENTS).exists()
        or seen.filter(
            type="charge.dispute.closed",
            payload__data__object__status__in=["won", "warning_closed"],
        ).exists()
    )


def _earnings_reverse(order: Order, *, kind: str, sign: int) -> None:
    sale = EarningsEntry.objects.filter(order=order, kind=EarningsEntry.Kind.SALE).first()
    if sale is None:
        return
    EarningsEntry.objects.get_or_create(
        order=order,
        kind=kind,
        defaults={
            "publisher_id": sale.publisher_id,
            "listing_id": sale.listing_id,
            "gross": sign * sale.gross,
            "fee": sign * sale.fee,
            "net": sign * sale.net,
            "currency": sale.currency,
            "fee_percent": sale.fee_percent,
        },
    )


def order_dispute_open(*, order_id: int, dispute_id: str, reason: str = "") -> Order:
    """A customer disputed the payment: what it bought is suspended until Stripe decides."""
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("listing").get(pk=order_id)
        if order.status != S.PAID or _won_already(dispute_id):
            return order
        now = timezone.now()
        order.status = S.DISPUTED
        order.failure_message = f"The payment is disputed ({reason or 'no reason given'})."[:500]
        order.save(update_fields=["status", "failure_message"])
        Entitlement.objects.filter(order=order, revoked_at__isnull=True).update(revoked_at=now)
        quota_pack_revoke(order=order, reason=DISPUTE)
        _earnings_reverse(order, kind=EarningsEntry.Kind.DISPUTE, sign=-1)
    log.warning("Order %s disputed (%s); access suspended.", order.number, dispute_id)
    return order


def order_dispute_won(*, order_id: int) -> Order:
    """Stripe decided for the store: the order is paid again and what it bought restored."""
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("listing").get(pk=order_id)
        if order.status != S.DISPUTED:
            return order
        order.status = S.PAID
        order.failure_message = ""
        order.save(update_fields=["status", "failure_message"])
        entitlement = Entitlement.objects.filter(order=order).first()
        if (
            entitlement is not None
            and not Entitlement.objects.filter(
                user_id=order.user_id, listing_id=order.listing_id, revoked_at__isnull=True
            ).exists()
        ):
            Entitlement.objects.filter(pk=entitlement.pk).update(revoked_at=None)
        quota_pack_restore(order=order, reason=DISPUTE)
        _earnings_reverse(order, kind=EarningsEntry.Kind.DISPUTE_WON, sign=1)
    return order


def order_dispute_lost(*, order_id: int) -> Order:
    """The customer kept the money: the order stays disputed, nothing is given back."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status == S.DISPUTED:
            order.failure_message = "The payment was disputed and returned to the card holder."
            order.save(update_fields=["failure_message"])
    return order
