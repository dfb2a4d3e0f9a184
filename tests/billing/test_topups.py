"""Credit top-ups by card (localstripe), their receipts, refunds and disputes.

Credits are fungible: a refund or dispute takes back what is left of a top-up, never more
than the balance holds, and the ledger always sums to the balance."""

import pytest
from django.db.models import Sum
from django.test import override_settings

from billing import gateway
from billing.models import CreditAccount, CreditLedgerEntry, CreditTopUp
from billing.selectors import credit_ledger_mismatches
from billing.services import (
    credits_grant,
    credits_hold,
    credits_settle,
    token_price_set,
    topup_pay_with_token,
    topup_refund,
    topup_start,
)
from config.api_errors import ApplicationError
from tests.billing.stripe_events import deliver
from tests.billing.test_stripe_payments import card_token
from tests.support.factories import UserFactory

pytestmark = pytest.mark.django_db

CENT = 1_000_000  # µ¢
VISA = "4242424242424242"


def balance(user) -> int:
    account = CreditAccount.objects.get(user=user)
    assert credit_ledger_mismatches() == []
    return account.available


def paid_topup(user, cents: int) -> CreditTopUp:
    topup = topup_start(user=user, cents=cents)
    topup_pay_with_token(topup=topup, token_id=card_token(VISA))
    topup.refresh_from_db()
    assert topup.status == "paid"
    return topup


@pytest.fixture
def refunder():
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def cent_a_token(listing, publisher):
    """1 ¢ per token in and out (the highest price allowed), so spending is easy to count."""
    return token_price_set(
        listing=listing, actor=publisher.user, input_per_mtok=1_000_000, output_per_mtok=1_000_000
    )


def spend(user, listing, price, cents: int, request_id: str) -> None:
    credits_hold(
        user=user, listing=listing, price=price, amount=cents * CENT, request_id=request_id
    )
    assert credits_settle(request_id=request_id, prompt_tokens=cents, completion_tokens=0) == (
        cents * CENT
    )


def intent_event(topup, *, amount=None, event_id=None) -> dict:
    return {
        "id": event_id or f"evt_topup_{topup.number.hex[:12]}",
        "object": "event",
        "type": "payment_intent.succeeded",
        "data": {
            "object": {
                "id": topup.payment_intent_id,
                "object": "payment_intent",
                "amount": topup.amount if amount is None else amount,
                "currency": topup.currency,
                "status": "succeeded",
                "metadata": {"topup_number": str(topup.number)},
            }
        },
    }


def charge_refunded(topup, *, amount_refunded: int, event_id: str) -> dict:
    charge = {
        "id": "ch_topup",
        "object": "charge",
        "amount": topup.amount,
        "amount_refunded": amount_refunded,
        "refunded": amount_refunded >= topup.amount,
        "payment_intent": topup.payment_intent_id,
        "refunds": {"object": "list", "data": [{"id": "re_dashboard", "object": "refund"}]},
    }
    return {
        "id": event_id,
        "object": "event",
        "type": "charge.refunded",
        "data": {"object": charge},
    }


def dispute(topup, *, type: str, status: str, event_id: str) -> dict:
    return {
        "id": event_id,
        "object": "event",
        "type": type,
        "data": {
            "object": {
                "id": "dp_topup",
                "object": "dispute",
                "amount": topup.amount,
                "payment_intent": topup.payment_intent_id,
                "status": status,
            }
        },
    }


def test_a_topup_paid_by_card_adds_its_amount_and_has_a_receipt(localstripe, client, user):
    topup = paid_topup(user, 500)

    assert balance(user) == 500 * CENT
    entry = CreditLedgerEntry.objects.get(topup=topup)
    assert (entry.kind, entry.available_delta) == ("topup", 500 * CENT)
    intent = gateway.payment_intent_retrieve(payment_intent_id=topup.payment_intent_id)
    assert (intent.amount, intent.metadata["topup_number"]) == (500, str(topup.number))
    client.force_login(user)
    receipt = client.get(f"/billing/credits/topups/{topup.number}/").content.decode()
    assert "Receipt" in receipt and "$5.00" in receipt and "Paid" in receipt


def test_a_declined_card_adds_nothing_and_the_topup_says_why(localstripe, user):
    topup = topup_start(user=user, cents=1000)

    with pytest.raises(ApplicationError) as declined:
        topup_pay_with_token(topup=topup, token_id=card_token("4000000000000341"))

    assert (declined.value.status, declined.value.code) == (402, "card_declined")
    topup.refresh_from_db()
    assert topup.status == "failed" and "declined" in topup.failure_message
    assert not CreditAccount.objects.filter(user=user, available__gt=0).exists()


@pytest.mark.parametrize("cents", [0, 499, 50_001, True, 12.5])
def test_amounts_outside_the_bounds_are_refused_and_nothing_is_started(user, cents):
    with pytest.raises(ApplicationError) as refused:
        topup_start(user=user, cents=cents)

    assert (refused.value.status, refused.value.code) == (400, "invalid_amount")
    assert "between $5.00 and $500.00" in refused.value.message
    assert not CreditTopUp.objects.exists()


def test_a_double_click_finds_the_same_pending_topup(user):
    assert topup_start(user=user, cents=2500).pk == topup_start(user=user, cents=2500).pk
    assert CreditTopUp.objects.count() == 1


def test_the_payment_webhook_credits_once_however_often_it_comes(client, user):
    topup = topup_start(user=user, cents=1000)
    CreditTopUp.objects.filter(pk=topup.pk).update(payment_intent_id="pi_topup_webhook")
    topup.refresh_from_db()

    answers = [deliver(client, intent_event(topup, event_id=f"evt_{i}")).content for i in range(3)]
    deliver(client, intent_event(topup, event_id="evt_0"))  # the same event again

    assert answers == [b"processed"] * 3
    assert balance(user) == 1000 * CENT
    assert CreditLedgerEntry.objects.filter(topup=topup, kind="topup").count() == 1


def test_a_payment_of_another_amount_credits_nothing(client, user):
    topup = topup_start(user=user, cents=1000)
    CreditTopUp.objects.filter(pk=topup.pk).update(payment_intent_id="pi_topup_wrong")
    topup.refresh_from_db()

    assert deliver(client, intent_event(topup, amount=100)).content == b"ignored"

    topup.refresh_from_db()
    assert topup.status == "pending"
    assert not CreditLedgerEntry.objects.filter(topup=topup).exists()


def test_refunding_an_unspent_topup_takes_it_all_back(localstripe, user, refunder):
    topup = paid_topup(user, 1000)

    topup_refund(topup_id=topup.pk, actor=refunder)

    topup.refresh_from_db()
    assert (topup.status, topup.refunded, topup.removed) == ("refunded", 1000, 1000 * CENT)
    assert balance(user) == 0
    assert topup.refund_id.startswith("re_")


def test_a_refund_after_part_was_spent_takes_back_only_what_is_left(
    localstripe, user, refunder, listing, cent_a_token
):
    topup = paid_topup(user, 1000)
    spend(user, listing, cent_a_token, 600, "spent-before-refund")

    topup_refund(topup_id=topup.pk, actor=refunder)

    topup.refresh_from_db()
    # $6 was spent on tokens: $4 goes back to the card and the balance stops at zero.
    assert (topup.status, topup.refunded, topup.removed) == ("partly_refunded", 400, 400 * CENT)
    assert balance(user) == 0
    with pytest.raises(ApplicationError) as again:
        topup_refund(topup_id=topup.pk, actor=refunder)
    assert (again.value.status, again.value.code) == (409, "nothing_to_refund")


def test_credits_held_by_a_running_request_are_not_refunded(
    localstripe, user, refunder, listing, cent_a_token
):
    topup = paid_topup(user, 1000)
    credits_hold(
        user=user, listing=listing, price=cent_a_token, amount=300 * CENT, request_id="running"
    )

    topup_refund(topup_id=topup.pk, actor=refunder)

    topup.refresh_from_db()
    assert topup.refunded == 700
    # The running request still settles from its hold; what it did not use is the
    # customer's again (it came back after the refund).
    assert credits_settle(request_id="running", prompt_tokens=100, completion_tokens=0) == (
        100 * CENT
    )
    assert balance(user) == 200 * CENT


def test_a_refund_stripe_refuses_gives_the_credits_back(localstripe, user, refunder):
    topup = paid_topup(user, 1000)

    with override_settings(STRIPE_API_BASE="http://127.0.0.1:9"):
        with pytest.raises(ApplicationError) as failed:
            topup_refund(topup_id=topup.pk, actor=refunder)

    assert failed.value.status == 502
    topup.refresh_from_db()
    assert (topup.status, topup.refunded, topup.removed) == ("paid", 0, 0)
    assert balance(user) == 1000 * CENT
    kinds = list(CreditLedgerEntry.objects.filter(topup=topup).values_list("kind", flat=True))
    assert kinds == ["topup", "refund", "restore"]


def test_staff_without_the_permission_cannot_refund(localstripe, user):
    topup = paid_topup(user, 1000)
    support = UserFactory(is_staff=True)

    with pytest.raises(ApplicationError) as refused:
        topup_refund(topup_id=topup.pk, actor=support)

    assert (refused.value.status, refused.value.code) == (403, "forbidden")
    assert balance(user) == 1000 * CENT


def test_a_refund_made_at_stripe_takes_what_is_left_never_below_zero(
    client, user, listing, cent_a_token
):
    topup = topup_start(user=user, cents=1000)
    CreditTopUp.objects.filter(pk=topup.pk).update(payment_intent_id="pi_topup_dashboard")
    topup.refresh_from_db()
    deliver(client, intent_event(topup))
    spend(user, listing, cent_a_token, 600, "spent-before-dashboard-refund")

    deliver(client, charge_refunded(topup, amount_refunded=1000, event_id="evt_refund_1"))
    deliver(client, charge_refunded(topup, amount_refunded=1000, event_id="evt_refund_2"))

    topup.refresh_from_db()
    assert (topup.status, topup.refunded, topup.removed) == ("refunded", 1000, 400 * CENT)
    assert topup.shortfall == 600 * CENT  # refunded, but spent before: the store bears it
    assert balance(user) == 0
    refunds = CreditLedgerEntry.objects.filter(topup=topup, kind="refund")
    assert refunds.aggregate(total=Sum("available_delta"))["total"] == -400 * CENT


def test_our_own_refund_is_not_taken_twice_when_its_webhook_arrives(
    localstripe, client, user, refunder
):
    topup = paid_topup(user, 1000)
    topup_refund(topup_id=topup.pk, actor=refunder)

    deliver(client, charge_refunded(topup, amount_refunded=1000, event_id="evt_own_refund"))

    topup.refresh_from_db()
    assert topup.removed == 1000 * CENT
    assert CreditLedgerEntry.objects.filter(topup=topup, kind="refund").count() == 1


def test_a_dispute_takes_what_is_left_and_a_won_dispute_gives_it_back(
    client, user, listing, cent_a_token
):
    topup = topup_start(user=user, cents=1000)
    CreditTopUp.objects.filter(pk=topup.pk).update(payment_intent_id="pi_topup_dispute")
    topup.refresh_from_db()
    deliver(client, intent_event(topup))
    spend(user, listing, cent_a_token, 250, "spent-before-dispute")

    deliver(
        client,
        dispute(topup, type="charge.dispute.created", status="needs_response", event_id="d1"),
    )
    deliver(client, dispute(topup, type="charge.dispute.funds_withdrawn", status="needs_response", event_id="d2"))  # fmt: skip

    topup.refresh_from_db()
    assert (topup.status, topup.dispute_removed) == ("disputed", 750 * CENT)
    assert balance(user) == 0

    deliver(client, dispute(topup, type="charge.dispute.closed", status="won", event_id="d3"))
    deliver(client, dispute(topup, type="charge.dispute.funds_reinstated", status="won", event_id="d4"))  # fmt: skip

    topup.refresh_from_db()
    assert (topup.status, topup.dispute_removed) == ("paid", 0)
    assert balance(user) == 750 * CENT


def test_the_credits_page_starts_a_topup_from_a_preset_or_a_typed_amount(localstripe, client, user):
    client.force_login(user)
    page = client.get("/billing/credits/").content.decode()
    assert "$5.00" in page and "$50.00" in page and "$500.00" in page

    preset = client.post("/billing/credits/topup/", {"preset": "1000"})
    typed = client.post("/billing/credits/topup/", {"amount": "12.50"})
    bad = client.post("/billing/credits/topup/", {"amount": "12.345"}, follow=True)
    low = client.post("/billing/credits/topup/", {"amount": "1"}, follow=True)

    amounts = sorted(CreditTopUp.objects.filter(user=user).values_list("amount", flat=True))
    assert amounts == [1000, 1250]
    assert preset.url.endswith("/pay/") and typed.url.endswith("/pay/")
    assert "such as 10 or 12.50" in bad.content.decode()
    assert "between $5.00 and $500.00" in low.content.decode()
    pay = client.get(typed.url).content.decode()
    assert "Pay $12.50" in pay and "Top-up" in pay


def test_another_customer_cannot_see_or_pay_a_topup(client, user):
    topup = topup_start(user=user, cents=1000)
    client.force_login(UserFactory())

    assert client.get(f"/billing/credits/topups/{topup.number}/").status_code == 403
    paid = client.post(f"/billing/credits/topups/{topup.number}/pay/token/", {"token": "tok_x"})
    assert paid.status_code == 403


def test_the_account_page_shows_the_balance_and_says_when_it_is_low(client, user):
    client.force_login(user)
    empty = client.get("/accounts/").content.decode()
    assert 'data-testid="account-low-balance"' in empty

    credits_grant(user=user, cents=250, actor=None, reason="Welcome")
    page = client.get("/accounts/").content.decode()

    assert "$2.50" in page and 'data-testid="account-low-balance"' not in page


def test_an_unpaid_topup_expires_with_the_unpaid_orders(user, settings):
    from django.utils import timezone

    from billing.tasks import expire_pending_orders

    topup = topup_start(user=user, cents=1000)
    CreditTopUp.objects.filter(pk=topup.pk).update(
        created_at=timezone.now() - timezone.timedelta(hours=settings.ORDER_PENDING_HOURS + 1)
    )

    assert expire_pending_orders() == 1

    topup.refresh_from_db()
    assert topup.status == "cancelled" and "expired" in topup.failure_message
    assert topup_start(user=user, cents=1000).pk != topup.pk
