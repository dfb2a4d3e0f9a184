"""A key's monthly spending limit in credits: counted in the same transaction as each credit
hold, so it holds under any interleaving; what a request did not use counts again."""

import pytest

from billing.models import CreditAccount, CreditHold, KeySpend
from billing.selectors import credit_ledger_mismatches, key_spend_this_month
from billing.services import credits_grant, credits_hold, credits_settle, token_price_set
from config.api_errors import ApplicationError
from tests.billing.ledger import outcomes_at_once

pytestmark = pytest.mark.django_db

CENT = 1_000_000  # µ¢


@pytest.fixture
def priced(listing, publisher):
    return token_price_set(
        listing=listing, actor=publisher.user, input_per_mtok=20, output_per_mtok=40
    )


@pytest.fixture
def funded(user, staff_user):
    credits_grant(user=user, cents=10_000, actor=staff_user, reason="test")
    return user


def test_a_hold_counts_against_the_key_and_the_unused_part_comes_back(
    funded, listing, priced, api_key_for
):
    key, _ = api_key_for(funded, monthly_spend_limit=100)  # $1.00
    credits_hold(
        user=funded, listing=listing, price=priced, amount=30 * CENT, request_id="r1", api_key=key
    )
    assert key_spend_this_month(api_key_ids=[key.pk]) == {key.pk: 30 * CENT}

    credits_settle(request_id="r1", prompt_tokens=1000, completion_tokens=500)

    # 1000 × 20 + 500 × 40 µ¢ were used; the rest of the 30 ¢ hold counts again.
    assert key_spend_this_month(api_key_ids=[key.pk]) == {key.pk: 40_000}


def test_a_request_the_limit_cannot_cover_is_429_and_holds_nothing(
    funded, listing, priced, api_key_for
):
    key, _ = api_key_for(funded, monthly_spend_limit=100)
    credits_hold(
        user=funded, listing=listing, price=priced, amount=80 * CENT, request_id="r1", api_key=key
    )

    with pytest.raises(ApplicationError) as refused:
        credits_hold(
            user=funded, listing=listing, price=priced, amount=30 * CENT, request_id="r2",
            api_key=key,
        )  # fmt: skip

    assert (refused.value.status, refused.value.code) == (429, "budget_exceeded")
    assert "monthly spending limit of $1.00" in refused.value.message
    assert "$0.80 is already spent or held" in refused.value.message
    assert 0 < refused.value.retry_after <= 31 * 86400
    assert not CreditHold.objects.filter(request_id="r2").exists()
    assert CreditAccount.objects.get(user=funded).available == 10_000 * CENT - 80 * CENT
    assert KeySpend.objects.get(api_key=key).spent == 80 * CENT


def test_a_first_request_above_the_limit_is_refused_and_counts_nothing(
    funded, listing, priced, api_key_for
):
    key, _ = api_key_for(funded, monthly_spend_limit=10)
    with pytest.raises(ApplicationError) as refused:
        credits_hold(
            user=funded, listing=listing, price=priced, amount=11 * CENT, request_id="r1",
            api_key=key,
        )  # fmt: skip
    assert refused.value.code == "budget_exceeded"
    assert key_spend_this_month(api_key_ids=[key.pk]).get(key.pk, 0) == 0


def test_no_credit_is_counted_against_the_key_when_the_balance_refuses(
    user, listing, priced, api_key_for
):
    key, _ = api_key_for(user, monthly_spend_limit=100)
    with pytest.raises(ApplicationError) as refused:
        credits_hold(
            user=user, listing=listing, price=priced, amount=CENT, request_id="r1", api_key=key
        )
    assert refused.value.code == "insufficient_quota"
    assert not KeySpend.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_holds_on_one_key_never_pass_its_limit(
    funded, listing, priced, api_key_for
):
    key, _ = api_key_for(funded, monthly_spend_limit=100)

    outcomes = outcomes_at_once(
        50,
        lambda n: credits_hold(
            user=funded, listing=listing, price=priced, amount=10 * CENT,
            request_id=f"c{n}", api_key=key,
        ),
    )  # fmt: skip

    assert sorted(set(outcomes)) == ["budget_exceeded", "ok"]
    assert outcomes.count("ok") == 10
    assert KeySpend.objects.get(api_key=key).spent == 100 * CENT
    assert CreditHold.objects.filter(api_key=key).count() == 10
    assert credit_ledger_mismatches() == []


def test_keys_without_a_limit_still_count_their_spend(funded, listing, priced, api_key_for):
    key, _ = api_key_for(funded)
    credits_hold(
        user=funded, listing=listing, price=priced, amount=5 * CENT, request_id="r1", api_key=key
    )
    assert key_spend_this_month(api_key_ids=[key.pk]) == {key.pk: 5 * CENT}


def test_a_key_is_created_with_a_spending_limit_in_dollars(client, user):
    client.force_login(user)
    client.post("/accounts/keys/", {"name": "ci", "monthly_spend_limit": "7.50"})
    bad = client.post("/accounts/keys/", {"name": "bad", "monthly_spend_limit": "7.505"})

    assert user.api_keys.get(name="ci").monthly_spend_limit == 750
    assert "such as 20 or 7.50" in bad.content.decode()
    assert not user.api_keys.filter(name="bad").exists()
    assert "$7.50/month" in client.get("/accounts/keys/").content.decode()
