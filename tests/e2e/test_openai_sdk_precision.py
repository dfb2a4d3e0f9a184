"""A version published in int8 is served in int8 by a real worker, through the official
openai SDK: the same weights pinned as version 1 (float32) and version 2 (int8) answer the
same prompt with log-probabilities that differ by int8's rounding and no more. Where the
CPU has no native bfloat16, the worker serves both in float32 and they are equal."""

import math

import openai
import pytest

from inference.engine.packing import bf16_supported
from store.models import ListingVersion
from tests.support.servable import grant_purchase, servable_listing, servable_version

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_version_published_in_int8_is_served_in_int8(
    asgi_server, celery_worker, api_key_for, user, tiny_model_dirs
):
    listing = servable_listing(tiny_model_dirs[True])
    int8 = servable_version(listing, tiny_model_dirs[True])
    ListingVersion.objects.filter(pk=int8.pk).update(serving_precision="int8")
    grant_purchase(user, listing)
    sdk = openai.OpenAI(
        base_url=f"{asgi_server}/v1", api_key=api_key_for(user)[1], max_retries=0, timeout=60
    )

    def first_token(version: int):
        answer = sdk.chat.completions.create(
            model=f"{listing.model_id}@v{version}",
            messages=[{"role": "user", "content": "Say hello"}],
            max_tokens=1,
            temperature=0,
            logprobs=True,
            top_logprobs=5,
        )
        assert answer.model == f"{listing.model_id}@v{version}"
        return {t.token: t.logprob for t in answer.choices[0].logprobs.content[0].top_logprobs}

    exact, small = first_token(1), first_token(2)

    shared = exact.keys() & small.keys()
    assert len(shared) >= 3
    differences = [abs(exact[token] - small[token]) for token in shared]
    if bf16_supported():
        assert 0 < max(differences) < 0.25
    else:
        assert max(differences) < 1e-4
    assert all(math.isfinite(value) for value in small.values())
