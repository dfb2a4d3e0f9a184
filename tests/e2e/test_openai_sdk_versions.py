"""Versions through the official openai SDK with a real worker: an unreviewed new version is
not served, approving it switches what ``publisher/listing`` answers with, and a pinned id
keeps the version it names. Version 1 has a chat template and version 2 has none, so the
prompt's token count says which version answered."""

import openai
import pytest

from inference.models import UsageRecord
from inference.tokenization import chat_prompt_ids
from store.models import ListingVersion
from store.services import version_review
from tests.support.factories import UserFactory
from tests.support.servable import grant_purchase, servable_listing, servable_version

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HELLO = [{"role": "user", "content": "Say hello"}]


def test_pins_and_reviews_decide_which_version_answers(
    asgi_server, celery_worker, api_key_for, user, tiny_model_dirs
):
    listing = servable_listing(tiny_model_dirs[True])
    first = listing.versions.get()
    second = servable_version(
        listing, tiny_model_dirs[False], chat_template=False, review="awaiting"
    )
    grant_purchase(user, listing)
    sdk = openai.OpenAI(
        base_url=f"{asgi_server}/v1", api_key=api_key_for(user)[1], max_retries=0, timeout=60
    )
    tokens = {
        version.number: len(chat_prompt_ids(storage_path=version.storage_path, messages=HELLO))
        for version in (first, second)
    }
    assert tokens[1] != tokens[2]

    def ask(model):
        answer = sdk.chat.completions.create(model=model, messages=HELLO, max_tokens=2)
        return answer.model, answer.usage.prompt_tokens

    assert ask(listing.model_id) == (listing.model_id, tokens[1])
    with pytest.raises(openai.NotFoundError) as unreviewed:
        ask(f"{listing.model_id}@v2")
    assert unreviewed.value.code == "model_not_found"

    version_review(
        version_id=second.pk, approve=True, actor=UserFactory(is_staff=True, is_superuser=True)
    )
    assert ask(listing.model_id) == (listing.model_id, tokens[2])
    assert ask(f"{listing.model_id}@v1") == (f"{listing.model_id}@v1", tokens[1])
    assert ask(f"{listing.model_id}@v2") == (f"{listing.model_id}@v2", tokens[2])
    served = list(UsageRecord.objects.order_by("created_at").values_list("version_id", flat=True))
    assert served == [first.pk, second.pk, first.pk, second.pk]
    assert ListingVersion.objects.get(pk=second.pk).review == "approved"
