"""The PaymentIntent of an order or a credit top-up: made once, charged, cancelled with it.

Invariant: one PaymentIntent per payable row. Stripe is called outside any transaction with
an idempotency key (a retry gets the same intent); the id is stored with a conditional
UPDATE, so when two requests race, the first id stays and the second reads it back.
"""

import logging

from django.db import transaction

from billing import gateway
from config.api_errors import ApplicationError

log = logging.getLogger(__name__)


def payment_intent_for(
    *, payable, amount: int, currency: str, reference: dict[str, str], idempotency_key: str
) -> gateway.PaymentSnapshot:
    """``payable``: an Order or a CreditTopUp (any row with ``payment_intent_id``)."""
    if payable.payment_intent_id:
        return gateway.payment_intent_retrieve(payment_intent_id=payable.payment_intent_id)
    intent = gateway.payment_intent_create(
        amount=amount, currency=currency, reference=reference, idempotency_key=idempotency_key
    )
    stored = (
        type(payable)
        .objects.filter(pk=payable.pk, payment_intent_id__isnull=True)
        .update(payment_intent_id=intent.id)
    )
    if not stored:
        payable.refresh_from_db(fields=["payment_intent_id"])
        return gateway.payment_intent_retrieve(payment_intent_id=payable.payment_intent_id)
    payable.payment_intent_id = intent.id
    return intent


def payment_intent_charge_token(
    *, intent: gateway.PaymentSnapshot, token_id: str, declined
) -> gateway.PaymentSnapshot:
    """Charges the card behind a localstripe token (see billing.gateway); a declined card
    calls ``declined(message)`` (the order or top-up fails) and answers 402."""
    try:
        return gateway.payment_intent_pay_with_token(payment_intent_id=intent.id, token_id=token_id)
    except gateway.GatewayError as exc:
        if exc.code == "card_declined":
            declined(exc.message)
        raise ApplicationError(exc.message, status=402, code=exc.code) from exc


def payment_intent_cancel_on_commit(*, payment_intent_id: str) -> None:
    """Cancels the PaymentIntent of an order or top-up just closed, once the closing commits,
    so that its card form stops working too. A refusal is only logged: the intent was paid
    already (the webhook then refunds or credits it) or Stripe is unreachable (the intent
    expires on its own; a payment still arriving is handled the same way)."""

    def cancel() -> None:
        try:
            gateway.payment_intent_cancel(payment_intent_id=payment_intent_id)
        except gateway.GatewayError as exc:
            log.warning("PaymentIntent %s not cancelled: %s", payment_intent_id, exc.message)

    transaction.on_commit(cancel)
