"""The Stripe adapter: the only module that talks to Stripe (or localstripe).

Both speak the same PaymentIntent API server side. They differ in how the browser
confirms a payment: real Stripe.js confirms the PaymentIntent with the card Element
(``confirmCardPayment``); localstripe's stand-in cannot, so the page tokenizes the card
(``createToken``) and the server attaches the card and confirms. ``confirmation_mode``
tells the checkout page which path to take; ``payment_intent_pay_with_token`` is the
server half of the localstripe path. Everything else is shared.
"""

from dataclasses import dataclass, field
from urllib.parse import urlsplit

import stripe
from django.conf import settings


class GatewayError(Exception):
    """Stripe refused or could not be reached; ``message`` is safe to show a customer."""

    def __init__(self, message: str, *, code: str = "payment_error"):
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class PaymentSnapshot:
    """What we need to know about a PaymentIntent, whichever server answered."""

    id: str
    status: str
    amount: int
    currency: str
    client_secret: str
    metadata: dict = field(default_factory=dict)
    failure_message: str = ""


def _configure() -> None:
    # Read at call time: tests point the settings at a localstripe started for the session.
    stripe.api_key = settings.STRIPE_SECRET_KEY
    stripe.api_base = settings.STRIPE_API_BASE or "https://api.stripe.com"
    stripe.max_network_retries = 0


def confirmation_mode() -> str:
    """``token`` when a Stripe stand-in (localstripe) serves the API, else ``elements``."""
    return "token" if settings.STRIPE_API_BASE and not settings.PRODUCTION else "elements"


def card_form_sources() -> dict[str, list[str]]:
    """What the card form loads besides the store's own files: Stripe.js, its frames (3-D
    Secure), its API. The pay page adds them to the Content Security Policy; no other page
    allows them."""

    def origin(url: str) -> str:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"

    script = origin(settings.STRIPE_JS_URL)
    api = origin(settings.STRIPE_API_BASE) if settings.STRIPE_API_BASE else "https://api.stripe.com"
    return {
        "script-src": [script],
        "frame-src": [script, "https://hooks.stripe.com"],
        "connect-src": [api],
    }


def payment_snapshot(intent) -> PaymentSnapshot:
    error = intent.get("last_payment_error") or {}
    return PaymentSnapshot(
        id=intent["id"],
        status=intent["status"],
        amount=int(intent["amount"]),
        currency=intent["currency"],
        client_secret=intent.get("client_secret") or "",
        metadata=dict(intent.get("metadata") or {}),
        failure_message=(error.get("message") or "") if isinstance(error, dict) else "",
    )


def _call(function, *args, **kwargs):
    _configure()
    try:
        # The SDK's objects are not dicts; plain (recursive) dicts keep the rest simple.
        return function(*args, **kwargs).to_dict()
    except stripe.error.CardError as exc:
        raise GatewayError(
            exc.user_message or "Your card was declined.", code="card_declined"
        ) from exc
    except stripe.error.StripeError as exc:
        message = getattr(exc, "user_message", None) or "The payment service refused the request."
        raise GatewayError(message) from exc


def payment_intent_create(
    *, amount: int, currency: str, reference: dict[str, str], idempotency_key: str
) -> PaymentSnapshot:
    """One PaymentIntent per order or top-up: the idempotency key makes a retry return the
    same one. ``reference`` (``order_number`` or ``topup_number``) goes into its metadata,
    which is how the webhook finds what the payment was for."""
    intent = _call(
        stripe.PaymentIntent.create,
        amount=amount,
        currency=currency,
        # In metadata, not ``description``: localstripe accepts no description.
        metadata=reference,
        idempotency_key=idempotency_key,
    )
    return payment_snapshot(intent)


def payment_intent_retrieve(*, payment_intent_id: str) -> PaymentSnapshot:
    return payment_snapshot(_call(stripe.PaymentIntent.retrieve, payment_intent_id))


def payment_intent_pay_with_token(*, payment_intent_id: str, token_id: str) -> PaymentSnapshot:
    """localstripe path: attach the tokenized card and confirm on the server.

    A declined card raises GatewayError; a card needing 3-D Secure comes back with status
    ``requires_action`` and the page finishes with ``confirmCardPayment``.
    """
    token = _call(stripe.Token.retrieve, token_id)
    card_id = (token.get("card") or {}).get("id")
    if not card_id:
        raise GatewayError("The card details could not be read.", code="invalid_token")
    _call(stripe.PaymentIntent.modify, payment_intent_id, payment_method=card_id)
    return payment_snapshot(_call(stripe.PaymentIntent.confirm, payment_intent_id))


def payment_intent_cancel(*, payment_intent_id: str) -> PaymentSnapshot:
    return payment_snapshot(_call(stripe.PaymentIntent.cancel, payment_intent_id))


def refund_create(
    *,
    payment_intent_id: str,
    reference: dict[str, str],
    idempotency_key: str,
    amount: int | None = None,
) -> str:
    """Refunds the payment (or ``amount`` cents of it); returns the refund id once Stripe
    answered ``succeeded`` or ``pending``."""
    refund = _call(
        stripe.Refund.create,
        payment_intent=payment_intent_id,
        metadata=reference,
        idempotency_key=idempotency_key,
        **({"amount": amount} if amount is not None else {}),
    )
    if refund["status"] not in {"succeeded", "pending"}:
        raise GatewayError(
            f"The refund was not accepted (status {refund['status']}).", code="refund_failed"
        )
    return refund["id"]


def webhook_event(*, payload: bytes, signature: str) -> dict:
    """Verifies ``Stripe-Signature`` and returns the event; ValueError on any forgery."""
    try:
        event = stripe.Webhook.construct_event(payload, signature, settings.STRIPE_WEBHOOK_SECRET)
    except stripe.error.SignatureVerificationError as exc:
        raise ValueError(str(exc)) from exc
    return event.to_dict()
