import pytest

from billing.models import (
    EarningsEntry,
    Entitlement,
    Order,
    QuotaLedgerEntry,
    QuotaPack,
    StripeEvent,
)
from billing.selectors import access_for
from billing.services import order_start
from tests.billing.stripe_events import deliver, intent_event, refund_event
from tests.support.factories import purchase_price, rental_price

pytestmark = pytest.mark.django_db


def _pending(user, option, intent_id="pi_test_1") -> Order:
    order = order_start(user=user, price_option_id=option.pk)
    Order.objects.filter(pk=order.pk).update(payment_intent_id=intent_id)
    order.refresh_from_db()
    return order


def test_a_signed_success_event_fulfils_a_purchase(client, user, listing):
    order = _pending(user, purchase_price(listing, amount=1500))

    response = deliver(client, intent_event(order))

    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == "paid"
    assert access_for(user=user, listing=listing).kind == "purchase"
    sale = EarningsEntry.objects.get(order=order)
    assert (sale.gross, sale.fee, sale.net) == (1500, 300, 1200)


def test_a_forged_signature_gets_400_and_changes_nothing(client, user, listing):
    order = _pending(user, purchase_price(listing))
    events_before = StripeEvent.objects.count()

    forged = deliver(client, intent_event(order), secret="whsec_not_ours")
    garbage = deliver(client, intent_event(order), signature="t=1,v1=deadbeef")
    missing = client.post("/billing/webhook/stripe/", data=b"{}", content_type="application/json")

    assert [forged.status_code, garbage.status_code, missing.status_code] == [400, 400, 400]
    order.refresh_from_db()
    assert order.status == "pending"
    assert StripeEvent.objects.count() == events_before
    assert not Entitlement.objects.exists()


def test_the_same_event_delivered_ten_times_fulfils_once(client, user, listing):
    order = _pending(user, rental_price(listing, tokens=5000, days=10))
    event = intent_event(order, event_id="evt_same")

    outcomes = [deliver(client, event).content for _ in range(10)]

    assert outcomes == [b"processed"] + [b"duplicate"] * 9
    assert QuotaPack.objects.filter(order=order).count() == 1
    assert QuotaLedgerEntry.objects.filter(kind="credit").count() == 1
    assert EarningsEntry.objects.filter(order=order).count() == 1
    assert access_for(user=user, listing=listing).available_tokens == 5000


def test_two_different_success_events_for_one_order_fulfil_once(client, user, listing):
    order = _pending(user, rental_price(listing, tokens=5000, days=10))
    deliver(client, intent_event(order))
    deliver(client, intent_event(order))
    assert QuotaPack.objects.filter(order=order).count() == 1
    assert access_for(user=user, listing=listing).available_tokens == 5000


def test_a_failure_after_success_leaves_the_order_paid(client, user, listing):
    order = _pending(user, purchase_price(listing))
    deliver(client, intent_event(order))
    deliver(
        client,
        intent_event(
            order, type="payment_intent.payment_failed", failure="Your card was declined."
        ),
    )
    order.refresh_from_db()
    assert order.status == "paid"
    assert access_for(user=user, listing=listing).kind == "purchase"


def test_a_success_after_a_failure_still_fulfils(client, user, listing):
    order = _pending(user, purchase_price(listing))
    deliver(
        client,
        intent_event(
            order, type="payment_intent.payment_failed", failure="Your card was declined."
        ),
    )
    order.refresh_from_db()
    assert (order.status, order.failure_message) == ("failed", "Your card was declined.")

    deliver(client, intent_event(order))

    order.refresh_from_db()
    assert order.status == "paid"
    assert access_for(user=user, listing=listing).kind == "purchase"


def test_a_refund_arriving_before_the_success_ends_refunded_without_access(client, user, listing):
    order = _pending(user, rental_price(listing, tokens=5000, days=10))
    deliver(client, refund_event(order))
    deliver(client, intent_event(order))

    order.refresh_from_db()
    assert order.status == "refunded"
    assert access_for(user=user, listing=listing).kind is None
    assert not EarningsEntry.objects.exists()


def test_a_refund_event_revokes_the_remaining_quota_and_reverses_earnings(client, user, listing):
    order = _pending(user, rental_price(listing, amount=999, tokens=5000, days=10))
    deliver(client, intent_event(order))
    deliver(client, refund_event(order))
    deliver(client, refund_event(order))

    order.refresh_from_db()
    assert order.status == "refunded"
    assert access_for(user=user, listing=listing).kind is None
    pack = QuotaPack.objects.get(order=order)
    assert (pack.available, pack.held) == (0, 0)
    assert list(QuotaLedgerEntry.objects.filter(pack=pack).values_list("kind", flat=True)) == [
        "credit",
        "refund",
    ]
    net = sum(EarningsEntry.objects.filter(order=order).values_list("net", flat=True))
    assert net == 0
    assert EarningsEntry.objects.filter(order=order).count() == 2


def test_an_event_whose_amount_does_not_match_the_order_fulfils_nothing(client, user, listing):
    order = _pending(user, purchase_price(listing, amount=1500))
    response = deliver(client, intent_event(order, amount=50))
    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == "pending"
    assert not Entitlement.objects.exists()


def test_events_for_unknown_payments_are_accepted_and_ignored(client, user, listing):
    order = _pending(user, purchase_price(listing), intent_id="pi_ours")
    stranger = Order(
        payment_intent_id="pi_someone_else", amount=100, currency="usd", number=order.number
    )
    event = intent_event(stranger)
    event["data"]["object"]["metadata"] = {}
    assert deliver(client, event).status_code == 200
    order.refresh_from_db()
    assert order.status == "pending"


def test_a_replayed_event_with_an_old_signature_is_refused(client, user, listing):
    import hashlib
    import hmac
    import json
    import time

    from django.conf import settings

    order = _pending(user, purchase_price(listing))
    payload = json.dumps(intent_event(order)).encode()
    stamp = int(time.time()) - 3600  # signed an hour ago: outside Stripe's 5-minute tolerance
    signature = hmac.new(
        settings.STRIPE_WEBHOOK_SECRET.encode(), b"%d.%s" % (stamp, payload), hashlib.sha256
    )
    response = client.post(
        "/billing/webhook/stripe/",
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=f"t={stamp},v1={signature.hexdigest()}",
    )
    assert response.status_code == 400
    order.refresh_from_db()
    assert order.status == "pending"


def test_a_refund_of_a_charge_without_a_payment_intent_touches_no_grant(
    client, user, listing, rent
):
    pack = rent(user, listing, tokens=1000)
    event = refund_event(pack.order)  # the grant has no payment intent: the charge names none
    assert event["data"]["object"]["payment_intent"] is None
    deliver(client, event)
    pack.order.refresh_from_db()
    assert pack.order.status == "paid"
    assert access_for(user=user, listing=listing).available_tokens == 1000
