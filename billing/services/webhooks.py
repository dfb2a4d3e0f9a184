"""Stripe webhook processing: each verified event is stored once and applied once.

Invariant: an event id is inserted under a unique constraint in the same transaction as
its effects, so a redelivery (or ten) changes nothing; the effects themselves are
idempotent order transitions, so events arriving out of order end in the same state.
"""

import logging
import uuid

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing import gateway
from billing.models import CreditTopUp, Order, StripeEvent
from billing.services.disputes import order_dispute_lost, order_dispute_open, order_dispute_won
from billing.services.orders import order_fail, order_fulfil, order_mark_refunded
from billing.services.topups import (
    topup_apply_intent,
    topup_dispute_lost,
    topup_dispute_open,
    topup_dispute_won,
    topup_fail,
    topup_refunded_by_stripe,
)
from config.api_errors import ApplicationError

log = logging.getLogger(__name__)


def _order_for_intent(intent: dict) -> Order | None:
    if not intent.get("id"):
        return None  # never match the orders without an intent (grants) by NULL
    order = Order.objects.filter(payment_intent_id=intent["id"]).first()
    if order is not None:
        return order
    number = (intent.get("metadata") or {}).get("order_number")
    if not number:
        return None
    try:
        number = uuid.UUID(str(number))
    except ValueError:
        return None
    return Order.objects.filter(number=number, payment_intent_id__isnull=True).first()


def _topup_for_intent(intent: dict) -> CreditTopUp | None:
    """A top-up's PaymentIntent: by its id, or by the number in its metadata (the webhook
    may come before the id was stored)."""
    if not intent.get("id"):
        return None
    topup = CreditTopUp.objects.filter(payment_intent_id=intent["id"]).first()
    if topup is not None:
        return topup
    try:
        number = uuid.UUID(str((intent.get("metadata") or {}).get("topup_number")))
    except ValueError:
        return None
    return CreditTopUp.objects.filter(number=number, payment_intent_id__isnull=True).first()


def _on_succeeded(intent: dict) -> None:
    order = _order_for_intent(intent)
    if order is not None:
        order_fulfil(order_id=order.pk, intent=gateway.payment_snapshot(intent))
        return
    topup = _topup_for_intent(intent)
    if topup is not None:
        topup_apply_intent(topup_id=topup.pk, intent=gateway.payment_snapshot(intent))


def _on_failed(intent: dict) -> None:
    message = gateway.payment_snapshot(intent).failure_message or "The payment failed."
    order = _order_for_intent(intent)
    if order is not None:
        order_fail(order_id=order.pk, message=message)
        return
    topup = _topup_for_intent(intent)
    if topup is not None:
        topup_fail(topup_id=topup.pk, message=message)


def _on_refunded(charge: dict) -> None:
    if not charge.get("payment_intent"):
        return  # a charge made outside the store's PaymentIntents
    refunds = (charge.get("refunds") or {}).get("data") or []
    topup = CreditTopUp.objects.filter(payment_intent_id=charge["payment_intent"]).first()
    if topup is not None:
        topup_refunded_by_stripe(
            topup_id=topup.pk,
            amount_refunded=int(charge.get("amount_refunded") or 0),
            refund_id=refunds[0]["id"] if refunds else "",
        )
        return
    order = Order.objects.filter(payment_intent_id=charge["payment_intent"]).first()
    if order is None:
        return
    if not charge.get("refunded") and int(charge.get("amount_refunded") or 0) < order.amount:
        return  # partial refunds are not sold here; staff refund whole orders
    order_mark_refunded(order_id=order.pk, refund_id=refunds[0]["id"] if refunds else "")


def _disputed(dispute: dict) -> CreditTopUp | Order | None:
    """The top-up or the order whose payment the dispute is about."""
    intent_id = dispute.get("payment_intent")
    if not intent_id or not dispute.get("id"):
        return None  # a dispute on a charge made outside the store's PaymentIntents
    topup = CreditTopUp.objects.filter(payment_intent_id=intent_id).first()
    return topup or Order.objects.filter(payment_intent_id=intent_id).first()


def _on_dispute_opened(dispute: dict) -> None:
    disputed = _disputed(dispute)
    if isinstance(disputed, CreditTopUp):
        topup_dispute_open(topup_id=disputed.pk)
    elif disputed is not None:
        order_dispute_open(
            order_id=disputed.pk, dispute_id=dispute["id"], reason=str(dispute.get("reason") or "")
        )


def _dispute_won(disputed: CreditTopUp | Order) -> None:
    if isinstance(disputed, CreditTopUp):
        topup_dispute_won(topup_id=disputed.pk)
    else:
        order_dispute_won(order_id=disputed.pk)


def _on_dispute_reinstated(dispute: dict) -> None:
    disputed = _disputed(dispute)
    if disputed is not None:
        _dispute_won(disputed)


def _on_dispute_closed(dispute: dict) -> None:
    disputed = _disputed(dispute)
    if disputed is None:
        return
    if dispute.get("status") in {"won", "warning_closed"}:
        _dispute_won(disputed)
    elif dispute.get("status") == "lost":
        if isinstance(disputed, CreditTopUp):
            topup_dispute_lost(topup_id=disputed.pk)
        else:
            order_dispute_lost(order_id=disputed.pk)


HANDLERS = {
    "payment_intent.succeeded": _on_succeeded,
    "payment_intent.payment_failed": _on_failed,
    "charge.refunded": _on_refunded,
    "charge.dispute.created": _on_dispute_opened,
    "charge.dispute.funds_withdrawn": _on_dispute_opened,
    "charge.dispute.funds_reinstated": _on_dispute_reinstated,
    "charge.dispute.closed": _on_dispute_closed,
}


def stripe_event_process(*, event: dict) -> str:
    """Applies one verified event; returns "processed", "duplicate" or "ignored"."""
    handler = HANDLERS.get(event.get("type"))
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = StripeEvent.objects.create(
                    event_id=event["id"], type=event["type"], payload=event
                )
        except IntegrityError:
            return "duplicate"
        if handler is None:
            return "ignored"
        try:
            with transaction.atomic():
                handler(event["data"]["object"])
        except ApplicationError as exc:
            # Recorded but not applied (e.g. an amount that does not match): retrying
            # the same event cannot succeed, so it is not worth a failing response.
            log.error("Stripe event %s not applied: %s", event["id"], exc.message)
            return "ignored"
        record.processed_at = timezone.now()
        record.save(update_fields=["processed_at"])
    return "processed"
