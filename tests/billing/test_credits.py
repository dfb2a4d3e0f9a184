"""Pay per token: token prices, credit grants, and the credit hold → settle path. Amounts
are µ¢ (a millionth of a cent): a price in cents per 1M tokens is µ¢ per token, so every
cost below is exact."""

from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone

from billing.models import CreditAccount, CreditHold, CreditLedgerEntry
from billing.selectors import Access, credit_ledger_mismatches, payer_for, token_price_for
from billing.services import (
    credits_grant,
    credits_hold,
    credits_release,
    credits_settle,
    token_cost,
    token_price_set,
)
from config.api_errors import ApplicationError
from tests.billing.ledger import outcomes_at_once
from tests.support.factories import UserFactory

pytestmark = pytest.mark.django_db

CENT = 1_000_000  # µ¢


def _balance(user) -> tuple[int, int]:
    account = CreditAccount.objects.get(user=user)
    sums = account.ledger_entries.aggregate(a=Sum("available_delta"), h=Sum("held_delta"))
    assert (account.available, account.held) == (sums["a"] or 0, sums["h"] or 0)
    return account.available, account.held


@pytest.fixture
def priced(listing, publisher):
    # $0.20 per 1M prompt tokens, $0.40 per 1M completion tokens.
    return token_price_set(
        listing=listing, actor=publisher.user, input_per_mtok=20, output_per_mtok=40
    )


def test_the_publisher_sets_token_prices_and_nobody_else_can(listing, publisher, user):
    price = token_price_set(
        listing=listing, actor=publisher.user, input_per_mtok=20, output_per_mtok=40
    )
    assert token_price_for(listing=listing) == price
    with pytest.raises(ApplicationError) as refused:
        token_price_set(listing=listing, actor=user, input_per_mtok=1, output_per_mtok=1)
    assert (refused.value.status, refused.value.code) == (403, "forbidden")
    for bad in (-1, 1.5, True, "20", 1_000_001):
        with pytest.raises(ApplicationError) as invalid:
            token_price_set(
                listing=listing, actor=publisher.user, input_per_mtok=bad, output_per_mtok=0
            )
        assert invalid.value.field == "input_per_mtok"
    assert token_price_for(listing=listing) == price  # nothing changed


def test_a_grant_needs_the_grant_permission_a_reason_and_whole_cents(user, staff_user):
    support = UserFactory(is_staff=True)  # staff, but no permissions
    with pytest.raises(ApplicationError) as refused:
        credits_grant(user=user, cents=500, actor=support, reason="goodwill")
    assert (refused.value.status, refused.value.code) == (403, "forbidden")
    for cents, reason in ((0, "x"), (1_000_001, "x"), (2.5, "x"), (500, "  ")):
        with pytest.raises(ApplicationError):
            credits_grant(user=user, cents=cents, actor=staff_user, reason=reason)
    assert not CreditLedgerEntry.objects.exists()

    entry = credits_grant(user=user, cents=500, actor=staff_user, reason="launch credit")
    assert (entry.kind, entry.available_delta, entry.created_by) == (
        "grant",
        500 * CENT,
        staff_user,
    )
    assert _balance(user) == (500 * CENT, 0)


def test_a_request_holds_its_most_and_settles_its_exact_cost(user, listing, priced, staff_user):
    credits_grant(user=user, cents=100, actor=staff_user, reason="test")
    most = token_cost(prompt_tokens=10, completion_tokens=16, price=priced)
    assert most == 10 * 20 + 16 * 40  # µ¢

    credits_hold(user=user, listing=listing, price=priced, amount=most, request_id="r1")
    assert _balance(user) == (100 * CENT - most, most)
    cost = credits_settle(request_id="r1", prompt_tokens=10, completion_tokens=5)

    assert cost == 10 * 20 + 5 * 40 == 400
    assert _balance(user) == (100 * CENT - 400, 0)
    hold = CreditHold.objects.get(request_id="r1")
    assert (hold.status, hold.used) == ("settled", 400)
    # Settling again (a retry, a second reader) changes nothing.
    credits_settle(request_id="r1", prompt_tokens=10, completion_tokens=16)
    credits_release(request_id="r1")
    assert _balance(user) == (100 * CENT - 400, 0)


def test_not_enough_credit_is_402_and_nothing_is_held(user, listing, priced):
    with pytest.raises(ApplicationError) as refused:
        credits_hold(user=user, listing=listing, price=priced, amount=1000, request_id="r1")
    assert (refused.value.status, refused.value.code) == (402, "insufficient_quota")
    assert "may cost up to $0.00001 but your credit balance is $0.00" in refused.value.message
    assert not CreditHold.objects.exists()
    assert not CreditLedgerEntry.objects.exists()
    assert _balance(user) == (0, 0)


def test_a_price_change_applies_to_requests_admitted_after_it(
    user, listing, priced, publisher, staff_user
):
    credits_grant(user=user, cents=100, actor=staff_user, reason="test")
    credits_hold(user=user, listing=listing, price=priced, amount=10_000, request_id="before")
    dearer = token_price_set(
        listing=listing, actor=publisher.user, input_per_mtok=200, output_per_mtok=400
    )
    credits_hold(user=user, listing=listing, price=dearer, amount=10_000, request_id="after")

    assert credits_settle(request_id="before", prompt_tokens=10, completion_tokens=5) == 400
    assert credits_settle(request_id="after", prompt_tokens=10, completion_tokens=5) == 4000


def test_a_free_model_needs_no_credit_at_all(user, listing, publisher):
    free = token_price_set(
        listing=listing, actor=publisher.user, input_per_mtok=0, output_per_mtok=0
    )
    credits_hold(user=user, listing=listing, price=free, amount=0, request_id="free")
    assert credits_settle(request_id="free", prompt_tokens=50, completion_tokens=50) == 0
    assert _balance(user) == (0, 0)


def test_a_failed_request_gives_the_whole_hold_back(user, listing, priced, staff_user):
    credits_grant(user=user, cents=1, actor=staff_user, reason="test")
    credits_hold(user=user, listing=listing, price=priced, amount=900, request_id="r1")
    credits_release(request_id="r1")
    assert _balance(user) == (CENT, 0)
    assert CreditHold.objects.get(request_id="r1").status == "released"


def test_which_balance_pays_is_decided_once_at_admission(priced):
    owner = Access(kind="purchase", available_tokens=0)
    big_pack = Access(kind="rental", available_tokens=1000)
    small_pack = Access(kind="rental", available_tokens=10)
    nothing = Access(kind=None, available_tokens=0)

    assert payer_for(access=owner, price=priced, tokens=100) == "purchase"
    assert payer_for(access=big_pack, price=priced, tokens=100) == "rental"
    assert payer_for(access=small_pack, price=priced, tokens=100) == "credits"
    assert payer_for(access=small_pack, price=None, tokens=100) == "rental"  # then 402
    assert payer_for(access=nothing, price=priced, tokens=100) == "credits"
    assert payer_for(access=nothing, price=None, tokens=100) is None


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_holds_on_a_balance_for_ten_never_overdraw(
    user, listing, priced, staff_user
):
    credits_grant(user=user, cents=10, actor=staff_user, reason="test")  # ten holds of 1 cent

    outcomes = outcomes_at_once(
        50,
        lambda n: credits_hold(
            user=user, listing=listing, price=priced, amount=CENT, request_id=f"r{n}"
        ),
    )

    assert outcomes.count("ok") == 10
    assert outcomes.count("insufficient_quota") == 40
    assert _balance(user) == (0, 10 * CENT)
    assert credit_ledger_mismatches() == []


def test_the_sweep_gives_back_credit_holds_of_requests_that_died(user, listing, priced, staff_user):
    from billing.tasks import release_stale_holds

    credits_grant(user=user, cents=1, actor=staff_user, reason="test")
    credits_hold(user=user, listing=listing, price=priced, amount=700, request_id="dead")
    credits_hold(user=user, listing=listing, price=priced, amount=200, request_id="alive")
    CreditHold.objects.filter(request_id="dead").update(
        created_at=timezone.now() - timedelta(hours=1)
    )

    assert release_stale_holds() == 1
    assert CreditHold.objects.get(request_id="dead").status == "released"
    assert CreditHold.objects.get(request_id="alive").status == "held"
    assert _balance(user) == (CENT - 200, 200)


def test_publishers_earn_per_token_spend_minus_the_fee_each_request_once(
    client, user, listing, priced, publisher, staff_user, settings
):
    from billing.models import UsageEarningsEntry
    from billing.services import usage_earnings_roll_up

    settings.PLATFORM_FEE_PERCENT = 20
    credits_grant(user=user, cents=100, actor=staff_user, reason="test")
    for n, completion in enumerate((5, 7, 3)):
        credits_hold(user=user, listing=listing, price=priced, amount=10_000, request_id=f"r{n}")
        credits_settle(request_id=f"r{n}", prompt_tokens=10, completion_tokens=completion)
    credits_hold(user=user, listing=listing, price=priced, amount=10_000, request_id="failed")
    credits_release(request_id="failed")  # spent nothing: earns nothing

    assert usage_earnings_roll_up() == 1
    assert usage_earnings_roll_up() == 0  # each request counted once
    entry = UsageEarningsEntry.objects.get()
    gross = 3 * 10 * 20 + (5 + 7 + 3) * 40  # µ¢
    assert (entry.publisher, entry.requests, entry.gross) == (publisher, 3, gross)
    assert (entry.fee, entry.net) == (gross * 20 // 100, gross - gross * 20 // 100)

    client.force_login(publisher.user)
    page = client.get("/billing/earnings/").content.decode()
    assert "Per-token revenue" in page and "$0.0000096" in page  # 1,200 µ¢ × 80 %
    csv = client.get("/billing/earnings/payout.csv").content.decode().splitlines()
    assert csv[-2].split(",")[3:7] == ["usage", "0.000012", "0.0000024", "0.0000096"]
    assert csv[-1].startswith("usage total,") and ",0.0000096," in csv[-1]
