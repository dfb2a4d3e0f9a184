"""Signed Stripe events for webhook tests, built the way Stripe (and localstripe) sign them."""

import hashlib
import hmac
import json
import time
import uuid

from django.conf import settings

WEBHOOK_URL = "/billing/webhook/stripe/"


def intent_event(
    order, *, type="payment_intent.succeeded", event_id=None, amount=None, failure=None
) -> dict:
    intent = {
        "id": order.payment_intent_id,
        "object": "payment_intent",
        "amount": order.amount if amount is None else amount,
        "currency": order.currency,
        "status": "succeeded" if type == "payment_intent.succeeded" else "requires_payment_method",
        "metadata": {"order_number": str(order.number)},
        "last_payment_error": {"message": failure, "code": "card_declined"} if failure else None,
    }
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:16]}",
        "object": "event",
        "type": type,
        "created": int(time.time()),
        "data": {"object": intent},
    }


def refund_event(order, *, event_id=None) -> dict:
    charge = {
        "id": "ch_test",
        "object": "charge",
        "amount": order.amount,
        "amount_refunded": order.amount,
        "refunded": True,
        "payment_intent": order.payment_intent_id,
        "refunds": {"object": "list", "data": [{"id": "re_test", "object": "refund"}]},
    }
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:16]}",
        "object": "event",
        "type": "charge.refunded",
        "created": int(time.time()),
        "data": {"object": charge},
    }


def dispute_event(
    order, *, type="charge.dispute.created", status="needs_response", event_id=None
) -> dict:
    dispute = {
        "id": f"dp_{order.number.hex[:12]}",
        "object": "dispute",
        "amount": order.amount,
        "currency": order.currency,
        "charge": "ch_test",
        "payment_intent": order.payment_intent_id,
        "reason": "fraudulent",
        "status": status,
    }
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:16]}",
        "object": "event",
        "type": type,
        "created": int(time.time()),
        "data": {"object": dispute},
    }


def signed(event: dict, *, secret: str | None = None) -> tuple[bytes, str]:
    payload = json.dumps(event).encode()
    stamp = int(time.time())
    key = (secret or settings.STRIPE_WEBHOOK_SECRET).encode()
    signature = hmac.new(key, b"%d.%s" % (stamp, payload), hashlib.sha256).hexdigest()
    return payload, f"t={stamp},v1={signature}"


def deliver(client, event: dict, *, secret: str | None = None, signature: str | None = None):
    payload, header = signed(event, secret=secret)
    return client.post(
        WEBHOOK_URL,
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature or header,
    )
