"""Free models (a price per token of zero) are limited per account, requests per minute and
tokens per day, so that nobody can fill the workers for free; paid access is not."""

import pytest

from billing.models import CreditHold
from billing.services import token_price_set
from inference.limits import RateLimited
from inference.services import CompletionParams, completion_settle, completion_start
from inference.tokenization import chat_prompt_ids
from tests.support.servable import servable_listing

pytestmark = pytest.mark.django_db

HI = [{"role": "user", "content": "hi"}]


def priced_listing(tiny_model_dirs, *, input_per_mtok: int, output_per_mtok: int):
    listing = servable_listing(tiny_model_dirs[True])
    token_price_set(
        listing=listing,
        actor=listing.publisher.user,
        input_per_mtok=input_per_mtok,
        output_per_mtok=output_per_mtok,
    )
    return listing


def prompt_tokens(listing) -> int:
    return len(chat_prompt_ids(storage_path=listing.versions.get().storage_path, messages=HI))


def ask(user, listing, *, max_tokens: int = 8):
    params = CompletionParams(
        model=listing.model_id, kind="chat", messages=HI, max_tokens=max_tokens
    )
    return completion_start(user=user, api_key=None, params=params)


def test_a_free_model_refuses_past_its_requests_per_minute(
    celery_worker, user, tiny_model_dirs, settings
):
    settings.FREE_MODEL_REQUESTS_PER_MINUTE = 2
    free = priced_listing(tiny_model_dirs, input_per_mtok=0, output_per_mtok=0)
    ask(user, free)
    ask(user, free)

    with pytest.raises(RateLimited) as refused:
        ask(user, free)

    assert (refused.value.status, refused.value.code) == (429, "rate_limit_exceeded")
    assert "Free models allow 2 requests per minute per account" in refused.value.message
    assert 1 <= refused.value.retry_after <= 60
    assert CreditHold.objects.filter(account__user=user).count() == 2  # none for the third


def test_free_tokens_per_day_count_the_most_then_the_real_use(
    celery_worker, user, tiny_model_dirs, settings
):
    free = priced_listing(tiny_model_dirs, input_per_mtok=0, output_per_mtok=0)
    most = prompt_tokens(free) + 60  # what a request here may use
    settings.FREE_MODEL_TOKENS_PER_DAY = 2 * most - 10  # one request's most fits, two do not
    first = ask(user, free, max_tokens=60)
    with pytest.raises(RateLimited) as refused:
        ask(user, free, max_tokens=60)
    assert "tokens per day per account" in refused.value.message

    completion_settle(
        request_id=first.request_id, prompt_tokens=first.prompt_tokens, completion_tokens=4
    )

    ask(user, free, max_tokens=60)  # only what the first really used still counts


def test_the_free_limits_are_per_account(
    celery_worker, user, other_user, tiny_model_dirs, settings
):
    settings.FREE_MODEL_REQUESTS_PER_MINUTE = 1
    free = priced_listing(tiny_model_dirs, input_per_mtok=0, output_per_mtok=0)
    ask(user, free)
    ask(other_user, free)
    with pytest.raises(RateLimited):
        ask(user, free)


def test_a_model_sold_per_token_is_not_under_the_free_limits(
    celery_worker, user, staff_user, tiny_model_dirs, settings
):
    from billing.services import credits_grant

    settings.FREE_MODEL_REQUESTS_PER_MINUTE = 1
    paid = priced_listing(tiny_model_dirs, input_per_mtok=20, output_per_mtok=40)
    credits_grant(user=user, cents=100, actor=staff_user, reason="test")

    started = [ask(user, paid) for _ in range(3)]

    assert len({s.request_id for s in started}) == 3
