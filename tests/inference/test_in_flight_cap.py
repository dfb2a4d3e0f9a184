"""One account may have INFERENCE_MAX_CONCURRENT_PER_USER answers in progress at once, so that
one customer cannot fill the workers: the next one is a 429 with nothing held; an answer's
settlement frees its place, a refused admission takes none, and other accounts are not
affected."""

import threading

import pytest

from billing.models import QuotaHold
from inference.limits import RateLimited, in_flight_admit
from inference.services import CompletionParams, completion_settle, completion_start
from tests.support.servable import grant_rental, servable_listing

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def ask(user, listing, max_tokens=4):
    params = CompletionParams(
        model=listing.model_id,
        kind="chat",
        messages=[{"role": "user", "content": "hi"}],
        max_tokens=max_tokens,
    )
    return completion_start(user=user, api_key=None, params=params)


def test_past_the_cap_a_request_is_refused_with_nothing_held_until_one_is_settled(
    celery_worker, user, other_user, tiny_model_dirs, settings
):
    settings.INFERENCE_MAX_CONCURRENT_PER_USER = 2
    listing = servable_listing(tiny_model_dirs[True])
    grant_rental(user, listing, tokens=10_000)
    grant_rental(other_user, listing, tokens=10_000)
    first, _second = ask(user, listing), ask(user, listing)

    with pytest.raises(RateLimited) as refused:
        ask(user, listing)
    assert (refused.value.status, refused.value.code, refused.value.retry_after) == (
        429,
        "rate_limit_exceeded",
        1,
    )
    assert "2 answers in progress" in refused.value.message
    assert QuotaHold.objects.filter(user=user).count() == 2  # none for the refused one
    ask(other_user, listing)  # another account has its own places

    completion_settle(
        request_id=first.request_id, prompt_tokens=first.prompt_tokens, completion_tokens=1
    )
    ask(user, listing)  # the settled answer's place is free again


def test_a_refused_admission_takes_no_place(celery_worker, user, tiny_model_dirs, settings):
    settings.INFERENCE_MAX_CONCURRENT_PER_USER = 1
    listing = servable_listing(tiny_model_dirs[True])
    grant_rental(user, listing, tokens=10)  # too few for any request here
    for _ in range(3):
        with pytest.raises(Exception) as short:
            ask(user, listing, max_tokens=50)
        assert getattr(short.value, "code", None) == "insufficient_quota"
    grant_rental(user, listing, tokens=10_000)
    ask(user, listing)  # the refusals left the one place free


def test_concurrent_admissions_never_pass_the_cap(user, settings):
    settings.INFERENCE_MAX_CONCURRENT_PER_USER = 5
    admitted, refused = [], []

    def call(index):
        try:
            in_flight_admit(user_id=user.pk, request_id=f"r{index}")
            admitted.append(index)
        except RateLimited:
            refused.append(index)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (len(admitted), len(refused)) == (5, 35)
