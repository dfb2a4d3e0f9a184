"""Disputes (chargebacks) through the signed webhook: access and earnings follow the money,
whatever order the events come in and however often."""

import pytest

from billing.models import EarningsEntry, Order, QuotaLedgerEntry
from billing.selectors import access_for
from tests.billing.stripe_events import deliver, dispute_event, intent_event
from tests.billing.test_webhooks import _pending
from tests.support.factories import purchase_price, rental_price

pytestmark = pytest.mark.django_db


def paid(client, user, option, intent_id="pi_disputed") -> Order:
    order = _pending(user, option, intent_id=intent_id)
    deliver(client, intent_event(order))
    order.refresh_from_db()
    assert order.status == "paid"
    return order


def publisher_net(order) -> int:
    return sum(EarningsEntry.objects.filter(order=order).values_list("net", flat=True))


def test_a_dispute_suspends_a_purchase_and_its_earnings(client, user, listing):
    order = paid(client, user, purchase_price(listing, amount=1500))

    response = deliver(client, dispute_event(order))

    assert response.content == b"processed"
    order.refresh_from_db()
    assert order.status == "disputed"
    assert access_for(user=user, listing=listing).kind is None
    assert publisher_net(order) == 0


def test_funds_withdrawn_alone_also_suspends_a_rental(client, user, listing):
    order = paid(client, user, rental_price(listing, tokens=5000, days=10))

    deliver(client, dispute_event(order, type="charge.dispute.funds_withdrawn"))

    assert access_for(user=user, listing=listing).available_tokens == 0


def test_a_won_dispute_restores_access_and_earnings(client, user, listing):
    order = paid(client, user, rental_price(listing, tokens=5000, days=10))
    deliver(client, dispute_event(order))
    deliver(client, dispute_event(order, type="charge.dispute.funds_withdrawn"))

    deliver(client, dispute_event(order, type="charge.dispute.closed", status="won"))
    deliver(client, dispute_event(order, type="charge.dispute.funds_reinstated", status="won"))

    order.refresh_from_db()
    assert order.status == "paid"
    assert access_for(user=user, listing=listing).available_tokens == 5000
    assert publisher_net(order) == EarningsEntry.objects.get(order=order, kind="sale").net
    restored = QuotaLedgerEntry.objects.filter(pack__order=order, reason="dispute_won")
    assert list(restored.values_list("available_delta", flat=True)) == [5000]


def test_a_won_purchase_dispute_gives_the_model_back(client, user, listing):
    order = paid(client, user, purchase_price(listing))
    deliver(client, dispute_event(order))

    deliver(client, dispute_event(order, type="charge.dispute.closed", status="won"))

    assert access_for(user=user, listing=listing).kind == "purchase"


def test_a_lost_dispute_keeps_access_withdrawn(client, user, listing):
    order = paid(client, user, purchase_price(listing))
    deliver(client, dispute_event(order))

    deliver(client, dispute_event(order, type="charge.dispute.closed", status="lost"))

    order.refresh_from_db()
    assert order.status == "disputed"
    assert "returned to the card holder" in order.failure_message
    assert access_for(user=user, listing=listing).kind is None


def test_a_dispute_replayed_ten_times_is_applied_once(client, user, listing):
    order = paid(client, user, purchase_price(listing))
    event = dispute_event(order, event_id="evt_dispute_once")

    outcomes = [deliver(client, event).content for _ in range(10)]

    assert outcomes == [b"processed"] + [b"duplicate"] * 9
    assert EarningsEntry.objects.filter(order=order, kind="dispute").count() == 1


def test_a_win_that_arrives_before_the_dispute_leaves_access_in_place(client, user, listing):
    order = paid(client, user, purchase_price(listing))

    deliver(client, dispute_event(order, type="charge.dispute.closed", status="won"))
    deliver(client, dispute_event(order))

    order.refresh_from_db()
    assert order.status == "paid"
    assert access_for(user=user, listing=listing).kind == "purchase"
    assert publisher_net(order) > 0


def test_a_dispute_for_an_unknown_payment_changes_nothing(client, user, listing):
    order = paid(client, user, purchase_price(listing))
    stranger = dispute_event(order)
    stranger["data"]["object"]["payment_intent"] = "pi_not_ours"

    assert deliver(client, stranger).status_code == 200

    order.refresh_from_db()
    assert order.status == "paid"
