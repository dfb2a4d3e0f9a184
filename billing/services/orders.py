"""Order writes: checkout, payment, fulfilment, failure, refund and grants.

Invariants:
- one pending order per customer and price option (a double click finds the same order);
- one PaymentIntent per order (Stripe idempotency key + a conditional UPDATE here);
- fulfilment happens once: the order row is locked and only a pending or failed order
  becomes paid; a refunded order is never fulfilled again, whatever order events arrive in;
- a refund revokes what the order paid for: the entitlement, or what is left of the pack;
- nothing is sold that is no longer on sale: an order is re-checked (billing.policies.
  order_unpayable) before its PaymentIntent is made, before a charge and when the money
  comes; a stale pending order is cancelled with its PaymentIntent, and money that still
  arrives for a cancelled order (a race with Stripe.js) is refunded, never kept for nothing.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing import gateway, policies
from billing.models import Entitlement, Order, PriceOption, TermsAcceptance
from billing.selectors import has_entitlement, terms_accepted, terms_for
from billing.services.earnings import earnings_record_refund, earnings_record_sale
from billing.services.intents import (
    payment_intent_cancel_on_commit,
    payment_intent_charge_token,
    payment_intent_for,
)
from billing.services.quota import quota_pack_credit, quota_pack_revoke
from config.api_errors import ApplicationError

log = logging.getLogger(__name__)
S = Order.Status


def order_start(*, user, price_option_id: int, accept_terms: bool = False) -> Order:
    """Finds or creates the customer's pending order for a price option.

    Refuses options off sale, listings not public, a publisher buying their own model,
    a second purchase of an owned model, and licence terms not accepted.
    """
    option = (
        PriceOption.objects.select_related("listing__publisher")
        .filter(pk=price_option_id, active=True)
        .first()
    )
    if option is None or not option.listing.is_public:
        raise ApplicationError("This price is no longer on sale.", status=404, code="not_found")
    listing = option.listing
    if listing.publisher.user_id == user.pk:
        raise ApplicationError(
            "You publish this model; you cannot buy it.", status=403, code="own_listing"
        )
    if option.kind == PriceOption.Kind.PURCHASE and has_entitlement(user=user, listing=listing):
        raise ApplicationError("You already own this model.", status=409, code="already_owned")
    terms = terms_for(listing=listing)
    if terms is not None and not terms_accepted(user=user, listing=listing, terms=terms):
        if not accept_terms:
            raise ApplicationError(
                "Accept the licence to continue.", field="accept_terms", code="terms_required"
            )
        TermsAcceptance.objects.get_or_create(
            user=user, listing=listing, text_sha256=terms.text_sha256
        )
    pending = Order.objects.filter(user=user, price_option=option, status=S.PENDING).first()
    if pending is not None:
        stale = policies.order_unpayable(order=pending)
        if stale is None:
            return pending
        order_cancel(order_id=pending.pk, message=stale.message)
    try:
        with transaction.atomic():
            order = Order.objects.create(
                user=user,
                listing=listing,
                price_option=option,
                kind=option.kind,
                amount=option.amount,
                currency=option.currency,
                tokens=option.tokens,
                days=option.days,
            )
    except IntegrityError:
        # A concurrent click created it first (one pending order per option).
        return Order.objects.get(user=user, price_option=option, status=S.PENDING)
    if terms is not None:
        TermsAcceptance.objects.filter(
            user=user, listing=listing, text_sha256=terms.text_sha256, order__isnull=True
        ).update(order=order)
    return order


def order_payment_intent_ensure(*, order: Order) -> gateway.PaymentSnapshot:
    """The order's PaymentIntent, created on first use. Stripe is called outside any
    transaction; the id is stored with a conditional UPDATE so a race keeps the first."""
    if order.status != S.PENDING:
        raise ApplicationError(
            "This order is not awaiting payment.", status=409, code="not_payable"
        )
    _require_payable(order)
    return payment_intent_for(
        payable=order,
        amount=order.amount,
        currency=order.currency,
        reference={
            "order_number": str(order.number),
            "description": f"{order.listing.model_id} ({order.get_kind_display()})",
        },
        idempotency_key=f"order-{order.number}-intent",
    )


def _require_payable(order: Order) -> None:
    order = Order.objects.select_related("listing", "price_option", "user").get(pk=order.pk)
    stale = policies.order_unpayable(order=order)
    if stale is not None:
        order_cancel(order_id=order.pk, message=stale.message)
        raise ApplicationError(stale.message, status=409, code=stale.code)


def order_pay_with_token(*, order: Order, token_id: str) -> gateway.PaymentSnapshot:
    """The server half of the localstripe checkout (see billing.gateway). The order is
    re-checked just before the card is charged."""
    intent = payment_intent_charge_token(
        intent=order_payment_intent_ensure(order=order),
        token_id=token_id,
        declined=lambda message: order_fail(order_id=order.pk, message=message),
    )
    return order_apply_intent(order_id=order.pk, intent=intent)[1]


def order_sync(*, order: Order) -> Order:
    """Asks Stripe how the payment went and applies it (for a late or lost webhook)."""
    if order.status != S.PENDING or not order.payment_intent_id:
        return order
    intent = gateway.payment_intent_retrieve(payment_intent_id=order.payment_intent_id)
    return order_apply_intent(order_id=order.pk, intent=intent)[0]


def order_apply_intent(
    *, order_id: int, intent: gateway.PaymentSnapshot
) -> tuple[Order, gateway.PaymentSnapshot]:
    if intent.status == "succeeded":
        return order_fulfil(order_id=order_id, intent=intent), intent
    if intent.status == "requires_payment_method" and intent.failure_message:
        return order_fail(order_id=order_id, message=intent.failure_message), intent
    return Order.objects.get(pk=order_id), intent


def _grant_access(order: Order) -> None:
    if order.kind == PriceOption.Kind.PURCHASE:
        if not Entitlement.objects.filter(
            user_id=order.user_id, listing_id=order.listing_id, revoked_at__isnull=True
        ).exists():
            Entitlement.objects.create(
                user_id=order.user_id, listing_id=order.listing_id, order=order
            )
    else:
        quota_pack_credit(order=order)


def order_fulfil(*, order_id: int, intent: gateway.PaymentSnapshot | None = None) -> Order:
    """Marks a paid order paid and grants what it bought, exactly once.

    A failed order still becomes paid if Stripe says the money came (events out of
    order); a refunded order stays refunded. The intent must match the order's amount.
    """
    with transaction.atomic():
        order = (
            Order.objects.select_for_update(of=("self",))
            .select_related("listing", "price_option", "user")
            .get(pk=order_id)
        )
        if order.status in {S.PAID, S.REFUNDED}:
            return order
        if intent is not None:
            if intent.amount != order.amount or intent.currency.lower() != order.currency.lower():
                log.error(
                    "PaymentIntent %s does not match order %s; not fulfilled.",
                    intent.id,
                    order.number,
                )
                raise ApplicationError(
                    "The payment does not match the order.", status=409, code="amount_mismatch"
                )
            if order.payment_intent_id is None:
                order.payment_intent_id = intent.id
        stale = policies.order_unpayable(order=order, expiry=False)
        if order.status == S.CANCELLED or stale is not None:
            return _refund_unfulfillable(order, stale)
        order.status = S.PAID
        order.paid_at = timezone.now()
        order.failure_message = ""
        order.save(update_fields=["status", "paid_at", "failure_message", "payment_intent_id"])
        _grant_access(order)
        earnings_record_sale(order=order)
    return order


def _refund_unfulfillable(order: Order, stale: policies.Unpayable | None) -> Order:
    """Money came for an order that cannot be fulfilled: it stays unfulfilled and the
    payment goes back after commit (Stripe is not called inside the transaction)."""
    reason = stale.message if stale is not None else order.failure_message
    order.status = S.CANCELLED
    order.failure_message = f"{reason} The payment is refunded."[:500]
    order.save(update_fields=["status", "failure_message", "payment_intent_id"])
    if order.payment_intent_id:
        order_id, intent_id, number = order.pk, order.payment_intent_id, str(order.number)
        transaction.on_commit(lambda: _refund_payment(order_id, intent_id, number))
    log.warning("Order %s paid but not fulfillable (%s); refunding.", order.number, reason)
    return order


def _refund_payment(order_id: int, payment_intent_id: str, order_number: str) -> None:
    try:
        refund_id = gateway.refund_create(
            payment_intent_id=payment_intent_id,
            reference={"order_number": order_number},
            idempotency_key=f"order-{order_number}-refund",
        )
    except gateway.GatewayError as exc:
        log.error("Refund of unfulfillable order %s failed: %s", order_number, exc.message)
        return
    order_mark_refunded(order_id=order_id, refund_id=refund_id)


def order_cancel(*, order_id: int, message: str) -> bool:
    """Closes a pending order that can no longer be paid, and cancels its PaymentIntent
    after commit so that the card form stops working too. False if it was not pending."""
    cancelled = Order.objects.filter(pk=order_id, status=S.PENDING).update(
        status=S.CANCELLED, failure_message=message[:500]
    )
    if cancelled:
        intent_id = Order.objects.filter(pk=order_id).values_list("payment_intent_id", flat=True)[0]
        if intent_id:
            payment_intent_cancel_on_commit(payment_intent_id=intent_id)
    return bool(cancelled)


def orders_cancel_pending(
    *, message: str, listing_id: int | None = None, price_option_ids=None
) -> int:
    """Cancels the pending orders of a listing or of price options that went off sale."""
    pending = Order.objects.filter(status=S.PENDING, reason=Order.Reason.SALE)
    if listing_id is not None:
        pending = pending.filter(listing_id=listing_id)
    if price_option_ids is not None:
        pending = pending.filter(price_option_id__in=list(price_option_ids))
    return sum(
        order_cancel(order_id=pk, message=message) for pk in pending.values_list("pk", flat=True)
    )


def orders_expire() -> int:
    """Cancels pending orders older than ORDER_PENDING_HOURS (Celery beat)."""
    cutoff = timezone.now() - timedelta(hours=settings.ORDER_PENDING_HOURS)
    stale = Order.objects.filter(status=S.PENDING, created_at__lt=cutoff).values_list(
        "pk", flat=True
    )
    message = "This order expired; start again from the model's page."
    return sum(order_cancel(order_id=pk, message=message) for pk in stale)


def order_fail(*, order_id: int, message: str) -> Order:
    """A declined payment: a pending order becomes failed (the customer may start again)."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status == S.PENDING:
            order.status = S.FAILED
            order.failure_message = (message or "The payment failed.")[:500]
            order.save(update_fields=["status", "failure_message"])
    return order


def order_mark_refunded(*, order_id: int, refund_id: str = "") -> Order:
    """Records a refund and revokes what the order paid for. Idempotent: the refund
    service and the charge.refunded webhook both call it, in either order."""
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("listing").get(pk=order_id)
        if order.status == S.REFUNDED:
            return order
        was_paid = order.status == S.PAID
        order.status = S.REFUNDED
        order.refunded_at = timezone.now()
        order.refund_id = refund_id or order.refund_id
        order.save(update_fields=["status", "refunded_at", "refund_id"])
        if was_paid:
            Entitlement.objects.filter(order=order, revoked_at__isnull=True).update(
                revoked_at=order.refunded_at
            )
            quota_pack_revoke(order=order)
            earnings_record_refund(order=order)
    return order


def order_refund(*, order_id: int, actor) -> Order:
    """Staff refund: Stripe refunds the payment, then access is revoked on its answer
    (no charge.refunded webhook is guaranteed). Grants are revoked without Stripe."""
    if not policies.may_refund_orders(actor):
        raise ApplicationError("Only staff can refund orders.", status=403, code="forbidden")
    order = Order.objects.get(pk=order_id)
    if order.status == S.REFUNDED:
        return order
    if order.status != S.PAID:
        raise ApplicationError(
            "Only paid orders can be refunded.", status=409, code="not_refundable"
        )
    refund_id = ""
    if order.reason == Order.Reason.SALE:
        try:
            refund_id = gateway.refund_create(
                payment_intent_id=order.payment_intent_id,
                reference={"order_number": str(order.number)},
                idempotency_key=f"order-{order.number}-refund",
            )
        except gateway.GatewayError as exc:
            raise ApplicationError(exc.message, status=502, code=exc.code) from exc
    return order_mark_refunded(order_id=order.pk, refund_id=refund_id)


def grant_create(
    *,
    user,
    listing,
    actor,
    purchase: bool = False,
    tokens: int | None = None,
    days: int | None = None,
) -> Order:
    """Staff grant without payment: an order with reason "grant" and amount 0, fulfilled
    through the same path as a sale (same entitlement or pack and ledger rows)."""
    # actor None: the store itself (demo data, tests), never a request.
    if actor is not None and not policies.may_grant_access(actor):
        raise ApplicationError("Only staff can grant access.", status=403, code="forbidden")
    if purchase == (tokens is not None or days is not None):
        raise ApplicationError(
            "Grant either a purchase or a rental pack (tokens and days).", field="kind"
        )
    if purchase:
        if has_entitlement(user=user, listing=listing):
            raise ApplicationError(
                f"{user.email} already owns {listing.model_id}.", status=409, code="already_owned"
            )
        kind = PriceOption.Kind.PURCHASE
    else:
        if not tokens or tokens <= 0 or not days or days <= 0:
            raise ApplicationError(
                "A rental grant needs a positive number of tokens and days.", field="tokens"
            )
        kind = PriceOption.Kind.RENTAL
    with transaction.atomic():
        order = Order.objects.create(
            user=user,
            listing=listing,
            kind=kind,
            reason=Order.Reason.GRANT,
            amount=0,
            currency=settings.STORE_CURRENCY,
            tokens=tokens if not purchase else None,
            days=days if not purchase else None,
            granted_by=actor,
        )
        return order_fulfil(order_id=order.pk)
