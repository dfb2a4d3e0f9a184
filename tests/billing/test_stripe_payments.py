"""Payments against a real localstripe server, through the official stripe SDK."""

import time

import pytest
import stripe
from django.conf import settings

from billing import gateway
from billing.models import EarningsEntry, Entitlement, Order, QuotaPack
from billing.selectors import access_for
from billing.services import (
    order_pay_with_token,
    order_payment_intent_ensure,
    order_refund,
    order_start,
)
from config.api_errors import ApplicationError
from tests.support.factories import purchase_price, rental_price

pytestmark = pytest.mark.django_db


def card_token(number: str) -> str:
    """What the checkout page's createToken does in the browser."""
    stripe.api_key = settings.STRIPE_PUBLISHABLE_KEY.replace("pk_", "sk_")
    stripe.api_base = settings.STRIPE_API_BASE
    token = stripe.Token.create(
        card={"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
    )
    return token.id


def wait_for(predicate, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_a_purchase_is_paid_and_grants_the_model(localstripe, user, listing):
    order = order_start(user=user, price_option_id=purchase_price(listing, amount=2500).pk)

    intent = order_pay_with_token(order=order, token_id=card_token("4242424242424242"))

    order.refresh_from_db()
    assert intent.status == "succeeded"
    assert order.status == "paid"
    assert Entitlement.objects.get(order=order).revoked_at is None
    assert access_for(user=user, listing=listing).kind == "purchase"
    assert gateway.payment_intent_retrieve(payment_intent_id=order.payment_intent_id).amount == 2500


def test_a_rental_credits_the_pack_with_its_expiry(localstripe, user, listing):
    order = order_start(user=user, price_option_id=rental_price(listing, tokens=20_000, days=7).pk)
    order_pay_with_token(order=order, token_id=card_token("4242424242424242"))

    pack = QuotaPack.objects.get(order=order)
    assert pack.available == 20_000
    assert 6.9 < (pack.expires_at - pack.created_at).total_seconds() / 86400 <= 7
    assert access_for(user=user, listing=listing).available_tokens == 20_000


def test_reloading_checkout_keeps_one_order_and_one_payment_intent(localstripe, user, listing):
    option = purchase_price(listing)
    first = order_start(user=user, price_option_id=option.pk)
    again = order_start(user=user, price_option_id=option.pk)
    intent = order_payment_intent_ensure(order=first)
    again.refresh_from_db()

    assert first.pk == again.pk
    assert order_payment_intent_ensure(order=again).id == intent.id
    assert Order.objects.filter(user=user).count() == 1


def test_a_declined_card_fails_the_order_and_grants_nothing(localstripe, user, listing):
    order = order_start(user=user, price_option_id=purchase_price(listing).pk)

    with pytest.raises(ApplicationError) as declined:
        order_pay_with_token(order=order, token_id=card_token("4000000000000341"))

    assert declined.value.status == 402
    assert "declined" in declined.value.message
    order.refresh_from_db()
    assert order.status == "failed"
    assert access_for(user=user, listing=listing).kind is None
    # The customer can start over: a new order, not the failed one.
    assert order_start(user=user, price_option_id=order.price_option_id).pk != order.pk


def test_a_staff_refund_revokes_the_model_and_reverses_earnings(
    localstripe, user, staff_user, listing
):
    order = order_start(user=user, price_option_id=purchase_price(listing, amount=1000).pk)
    order_pay_with_token(order=order, token_id=card_token("4242424242424242"))

    order_refund(order_id=order.pk, actor=staff_user)

    order.refresh_from_db()
    assert order.status == "refunded"
    assert order.refund_id.startswith("re_")
    assert access_for(user=user, listing=listing).kind is None
    assert sorted(EarningsEntry.objects.filter(order=order).values_list("net", flat=True)) == [
        -800,
        800,
    ]
    # A second refund click changes nothing and does not call Stripe again.
    assert order_refund(order_id=order.pk, actor=staff_user).refund_id == order.refund_id


def test_a_refunded_rental_loses_its_remaining_tokens(localstripe, user, staff_user, listing):
    order = order_start(user=user, price_option_id=rental_price(listing, tokens=9000).pk)
    order_pay_with_token(order=order, token_id=card_token("4242424242424242"))
    order_refund(order_id=order.pk, actor=staff_user)
    assert access_for(user=user, listing=listing).kind is None
    assert QuotaPack.objects.get(order=order).available == 0


def test_customers_cannot_refund(localstripe, user, listing):
    order = order_start(user=user, price_option_id=purchase_price(listing).pk)
    order_pay_with_token(order=order, token_id=card_token("4242424242424242"))
    with pytest.raises(ApplicationError) as refused:
        order_refund(order_id=order.pk, actor=user)
    assert refused.value.status == 403


@pytest.mark.django_db(transaction=True)
def test_the_signed_webhook_from_localstripe_fulfils_an_order_confirmed_elsewhere(
    localstripe_webhook, user, listing
):
    order = order_start(user=user, price_option_id=rental_price(listing, tokens=3000).pk)
    intent = order_payment_intent_ensure(order=order)

    # The browser confirms with Stripe directly; only the webhook tells the store.
    stripe.PaymentIntent.modify(intent.id, payment_method="pm_card_visa")
    stripe.PaymentIntent.confirm(intent.id)

    assert wait_for(lambda: Order.objects.get(pk=order.pk).status == "paid")
    assert access_for(user=user, listing=listing).available_tokens == 3000
