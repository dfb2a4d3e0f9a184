"""Pay per token through the official openai SDK, with a real worker and a tiny model: the
price shows in /v1/models, each answer's usage says what it cost (exactly what left the
credit balance), a pack that covers the request pays before credits, and a balance too small
for the request's most is a 402 with nothing held."""

import asyncio
from decimal import Decimal

import openai
import pytest
from openai import AsyncOpenAI

from billing.models import CreditAccount, CreditHold
from billing.selectors import credit_ledger_mismatches
from billing.services import credits_grant, token_price_set
from inference.models import UsageRecord
from tests.support.servable import grant_rental, servable_listing

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HELLO = [{"role": "user", "content": "Say hello"}]
CENT = 1_000_000  # µ¢


@pytest.fixture
def metered(tiny_model_dirs):
    listing = servable_listing(tiny_model_dirs[True])
    # $0.20 per 1M prompt tokens, $0.40 per 1M completion tokens.
    token_price_set(
        listing=listing, actor=listing.publisher.user, input_per_mtok=20, output_per_mtok=40
    )
    return listing


@pytest.fixture
def sdk(asgi_server, celery_worker, api_key_for):
    def make(user):
        _, secret = api_key_for(user)
        return openai.OpenAI(
            base_url=f"{asgi_server}/v1", api_key=secret, max_retries=0, timeout=60
        )

    return make


def available(user) -> int:
    return CreditAccount.objects.get(user=user).available


def test_the_price_per_token_shows_in_the_models_list(sdk, user, metered):
    models = sdk(user).models.list()
    assert [model.id for model in models.data] == [metered.model_id]
    pricing = models.data[0].model_extra["pricing"]
    assert (pricing["prompt"], pricing["completion"]) == ("0.0000002", "0.0000004")


def test_a_call_costs_exactly_its_tokens_at_the_model_prices(sdk, user, metered, staff_user):
    credits_grant(user=user, cents=100, actor=staff_user, reason="test")
    client = sdk(user)

    answer = client.chat.completions.create(
        model=metered.model_id, messages=HELLO, max_tokens=8, temperature=0
    )
    stream = client.chat.completions.create(
        model=metered.model_id, messages=HELLO, max_tokens=8, temperature=0, stream=True,
        stream_options={"include_usage": True},
    )  # fmt: skip
    streamed = [chunk.usage for chunk in stream if chunk.usage][-1]

    costs = []
    for usage in (answer.usage, streamed):
        cost = usage.prompt_tokens * 20 + usage.completion_tokens * 40  # µ¢
        assert Decimal(usage.model_extra["cost"]) == Decimal(cost) / 100_000_000
        costs.append(cost)
    assert available(user) == 100 * CENT - sum(costs)
    records = UsageRecord.objects.filter(user=user).order_by("id")
    assert [(r.access, r.cost) for r in records] == [("credits", c) for c in costs]
    assert not CreditHold.objects.filter(status="held").exists()
    assert credit_ledger_mismatches() == []


def test_a_pack_that_covers_the_request_pays_before_credits(sdk, user, metered, staff_user):
    credits_grant(user=user, cents=100, actor=staff_user, reason="test")
    grant_rental(user, metered, tokens=5000)
    answer = sdk(user).chat.completions.create(
        model=metered.model_id, messages=HELLO, max_tokens=8, temperature=0
    )
    assert "cost" not in answer.usage.model_extra
    assert available(user) == 100 * CENT
    assert UsageRecord.objects.get(user=user).access == "rental"


def test_too_little_credit_for_the_most_a_request_may_cost_is_402(sdk, user, metered, staff_user):
    # A cent a completion token: eight of them may cost 8 cents; the balance is 1 cent.
    token_price_set(
        listing=metered, actor=metered.publisher.user, input_per_mtok=0, output_per_mtok=1_000_000
    )
    credits_grant(user=user, cents=1, actor=staff_user, reason="test")
    with pytest.raises(openai.APIStatusError) as refused:
        sdk(user).chat.completions.create(model=metered.model_id, messages=HELLO, max_tokens=8)
    assert (refused.value.status_code, refused.value.code) == (402, "insufficient_quota")
    assert "may cost up to $0.08 but your credit balance is $0.01" in refused.value.message
    assert available(user) == CENT
    assert not CreditHold.objects.exists()


def test_two_hundred_concurrent_calls_on_credit_for_a_fifth_never_overdraw(
    asgi_server, celery_worker, api_key_for, user, metered, staff_user
):
    # A cent a completion token, eight at most per call: 320 cents pay 40 calls' most at once.
    token_price_set(
        listing=metered, actor=metered.publisher.user, input_per_mtok=0, output_per_mtok=1_000_000
    )
    credits_grant(user=user, cents=320, actor=staff_user, reason="test")
    _, secret = api_key_for(user)

    async def one(client: AsyncOpenAI, index: int) -> tuple[int, str]:
        try:
            if index % 2:
                stream = await client.chat.completions.create(
                    model=metered.model_id, messages=HELLO, max_tokens=8, temperature=0,
                    stream=True, stream_options={"include_usage": True},
                )  # fmt: skip
                async for _ in stream:
                    pass
            else:
                await client.chat.completions.create(
                    model=metered.model_id, messages=HELLO, max_tokens=8, temperature=0
                )
            return 200, ""
        except openai.APIStatusError as exc:
            return exc.status_code, exc.code or ""

    async def burst() -> list[tuple[int, str]]:
        client = AsyncOpenAI(
            base_url=f"{asgi_server}/v1", api_key=secret, max_retries=0, timeout=300
        )
        async with client:
            return await asyncio.gather(*[one(client, i) for i in range(200)])

    results = asyncio.run(burst())

    assert {status for status, _ in results} <= {200, 402, 429}, results
    assert ("402", "insufficient_quota") in {(str(s), c) for s, c in results}
    answered = sum(1 for status, _ in results if status == 200)
    records = UsageRecord.objects.filter(user=user)
    assert records.count() == answered > 0
    spent = sum(records.values_list("cost", flat=True))
    assert available(user) == 320 * CENT - spent >= 0
    assert not CreditHold.objects.filter(status="held").exists()
    assert credit_ledger_mismatches() == []


def test_a_key_over_its_monthly_spending_limit_gets_429_with_nothing_held(
    asgi_server, celery_worker, api_key_for, user, metered, staff_user
):
    # A cent a completion token: a call of eight may cost 8 cents, what the key may spend in a
    # month. The first call spends some of it, so the second's most no longer fits.
    token_price_set(
        listing=metered, actor=metered.publisher.user, input_per_mtok=0, output_per_mtok=1_000_000
    )
    credits_grant(user=user, cents=100, actor=staff_user, reason="test")
    _, secret = api_key_for(user, monthly_spend_limit=8)
    client = openai.OpenAI(base_url=f"{asgi_server}/v1", api_key=secret, max_retries=0)

    first = client.chat.completions.create(
        model=metered.model_id, messages=HELLO, max_tokens=8, temperature=0
    )
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(model=metered.model_id, messages=HELLO, max_tokens=8)

    assert refused.value.code == "budget_exceeded"
    assert first.usage.completion_tokens >= 1
    assert "monthly spending limit of $0.08" in refused.value.message
    assert int(refused.value.response.headers["Retry-After"]) > 0
    spent = first.usage.completion_tokens * CENT
    assert available(user) == 100 * CENT - spent
    assert UsageRecord.objects.filter(user=user).count() == 1
    assert not CreditHold.objects.filter(status="held").exists()
