"""Orders are re-checked when they are paid: nothing is sold that is no longer on sale,
and money that still arrives for such an order goes back."""

from datetime import timedelta

import pytest
import stripe
from django.conf import settings

from billing import gateway
from billing.models import Entitlement, Order
from billing.services import (
    grant_create,
    order_pay_with_token,
    order_payment_intent_ensure,
    order_start,
    order_sync,
    orders_expire,
    price_option_add,
    price_option_deactivate,
)
from config.api_errors import ApplicationError
from store.services import listing_transition
from tests.billing.test_stripe_payments import card_token
from tests.support.factories import purchase_price, rental_price

pytestmark = pytest.mark.django_db

VISA = "4242424242424242"


def refused_payment(order) -> ApplicationError:
    with pytest.raises(ApplicationError) as refused:
        order_pay_with_token(order=order, token_id=card_token(VISA))
    order.refresh_from_db()
    return refused.value


def test_a_withdrawn_price_cancels_its_pending_orders(
    localstripe, user, listing, django_capture_on_commit_callbacks
):
    option = rental_price(listing)
    order = order_start(user=user, price_option_id=option.pk)
    intent = order_payment_intent_ensure(order=order)

    with django_capture_on_commit_callbacks(execute=True):
        price_option_deactivate(option=option, actor=listing.publisher.user)

    order.refresh_from_db()
    assert order.status == "cancelled"
    assert "withdrew" in order.failure_message
    assert gateway.payment_intent_retrieve(payment_intent_id=intent.id).status == "canceled"


def test_a_price_withdrawn_behind_the_services_back_is_refused_at_payment(
    localstripe, user, listing
):
    option = purchase_price(listing, amount=1500)
    order = order_start(user=user, price_option_id=option.pk)
    type(option).objects.filter(pk=option.pk).update(active=False)

    error = refused_payment(order)

    assert (error.status, error.code) == (409, "price_changed")
    assert order.status == "cancelled"
    assert not Entitlement.objects.exists()


def test_a_replaced_purchase_price_cancels_orders_at_the_old_price(user, listing):
    order = order_start(user=user, price_option_id=purchase_price(listing, amount=1500).pk)

    price_option_add(listing=listing, actor=listing.publisher.user, kind="purchase", amount=9900)

    order.refresh_from_db()
    assert order.status == "cancelled"


def test_a_delisted_model_cannot_be_paid(localstripe, user, listing, staff_user):
    order = order_start(user=user, price_option_id=purchase_price(listing).pk)

    listing_transition(listing_id=listing.pk, to_status="delisted", actor=staff_user)

    order.refresh_from_db()
    assert order.status == "cancelled"
    with pytest.raises(ApplicationError) as refused:
        order_payment_intent_ensure(order=order)
    assert refused.value.status == 409


def test_a_model_owned_since_the_order_was_made_is_not_charged_again(localstripe, user, listing):
    order = order_start(user=user, price_option_id=purchase_price(listing).pk)
    grant_create(user=user, listing=listing, actor=None, purchase=True)

    error = refused_payment(order)

    assert (error.status, error.code) == (409, "already_owned")
    assert order.status == "cancelled"
    assert order.payment_intent_id is None  # no PaymentIntent, no charge


def test_money_arriving_for_an_order_that_can_no_longer_be_fulfilled_is_refunded(
    localstripe, user, listing, django_capture_on_commit_callbacks
):
    order = order_start(user=user, price_option_id=purchase_price(listing, amount=1500).pk)
    intent = order_payment_intent_ensure(order=order)
    first = grant_create(user=user, listing=listing, actor=None, purchase=True)
    # The browser confirms with Stripe directly (Stripe.js), past every server check.
    stripe.api_key = settings.STRIPE_SECRET_KEY
    stripe.api_base = settings.STRIPE_API_BASE
    card = stripe.Token.retrieve(card_token(VISA)).card.id
    stripe.PaymentIntent.modify(intent.id, payment_method=card)
    stripe.PaymentIntent.confirm(intent.id)

    with django_capture_on_commit_callbacks(execute=True):
        order_sync(order=order)

    order.refresh_from_db()
    assert order.status == "refunded"
    assert order.refund_id
    assert "already own" in order.failure_message
    assert Entitlement.objects.get(user=user, listing=listing).order_id == first.pk


def test_unpaid_orders_expire(localstripe, user, listing, django_capture_on_commit_callbacks):
    order = order_start(user=user, price_option_id=rental_price(listing).pk)
    intent = order_payment_intent_ensure(order=order)
    old = order.created_at - timedelta(hours=settings.ORDER_PENDING_HOURS, minutes=1)
    Order.objects.filter(pk=order.pk).update(created_at=old)

    with django_capture_on_commit_callbacks(execute=True):
        assert orders_expire() == 1

    order.refresh_from_db()
    assert order.status == "cancelled"
    assert gateway.payment_intent_retrieve(payment_intent_id=intent.id).status == "canceled"


def test_an_expired_pending_order_is_replaced_by_a_fresh_one(user, listing):
    option = rental_price(listing)
    stale = order_start(user=user, price_option_id=option.pk)
    Order.objects.filter(pk=stale.pk).update(created_at=stale.created_at - timedelta(days=2))

    fresh = order_start(user=user, price_option_id=option.pk)

    stale.refresh_from_db()
    assert fresh.pk != stale.pk
    assert stale.status == "cancelled"
