"""The PaymentIntent of an order or a credit top-up, made once.

Invariant: one PaymentIntent per payable row. Stripe is called outside any transaction with
an idempotency key (a retry gets the same intent); the id is stored with a conditional
UPDATE, so when two requests race, the first id stays and the second reads it back.
"""

from billing import gateway
from config.api_errors import ApplicationError


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
