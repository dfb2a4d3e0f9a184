"""API key limits: requests and tokens per minute, a monthly budget, counted in Redis."""

import json
import threading

import pytest

from inference.limits import RateLimited, limits_admit, limits_correct, limits_usage
from tests.support.servable import grant_purchase, servable_listing

pytestmark = pytest.mark.django_db


def test_requests_per_minute_are_refused_past_the_limit_with_retry_after(user, api_key_for):
    key, _ = api_key_for(user, requests_per_minute=2)
    now = 1_699_999_990.0  # 10 s into a minute
    limits_admit(api_key=key, tokens=5, now=now)
    limits_admit(api_key=key, tokens=5, now=now)
    with pytest.raises(RateLimited) as refused:
        limits_admit(api_key=key, tokens=5, now=now)
    assert refused.value.status == 429
    assert refused.value.retry_after == 50
    # The next minute is a new window.
    limits_admit(api_key=key, tokens=5, now=now + 60)


def test_tokens_per_minute_count_the_most_a_request_may_use_then_the_real_use(user, api_key_for):
    key, _ = api_key_for(user, tokens_per_minute=100)
    ticket = limits_admit(api_key=key, tokens=80)
    with pytest.raises(RateLimited):
        limits_admit(api_key=key, tokens=30)
    limits_correct(tokens_key=ticket.tokens_key, month_key=ticket.month_key, counted=80, used=20)
    assert limits_usage(api_key=key)["tokens_this_minute"] == 20
    limits_admit(api_key=key, tokens=30)


def test_the_monthly_budget_refuses_until_next_month(user, api_key_for):
    key, _ = api_key_for(user, monthly_token_budget=1000)
    december_31 = 1_704_067_140.0  # 2023-12-31 23:59:00 UTC
    limits_admit(api_key=key, tokens=900, now=december_31)
    with pytest.raises(RateLimited) as refused:
        limits_admit(api_key=key, tokens=200, now=december_31)
    assert refused.value.retry_after == 60
    limits_admit(api_key=key, tokens=200, now=december_31 + 61)


def test_a_key_without_limits_counts_nothing(user, api_key_for, redis_client):
    key, _ = api_key_for(user)
    assert limits_admit(api_key=key, tokens=10**9) is None


def test_concurrent_admissions_never_exceed_the_limit(user, api_key_for):
    key, _ = api_key_for(user, requests_per_minute=10)
    admitted, refused = [], []
    now = 1_700_000_000.0

    def call():
        try:
            limits_admit(api_key=key, tokens=1, now=now)
            admitted.append(1)
        except RateLimited:
            refused.append(1)

    threads = [threading.Thread(target=call) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (len(admitted), len(refused)) == (10, 30)


def test_the_api_answers_429_with_retry_after(client, user, api_key_for, tiny_model_dirs):
    listing = servable_listing(tiny_model_dirs[True])
    grant_purchase(user, listing)
    _, secret = api_key_for(user, tokens_per_minute=50)
    body = {
        "model": listing.model_id,
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 60,
    }
    response = client.post(
        "/v1/chat/completions",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
