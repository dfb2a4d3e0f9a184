"""A GPT through the official openai SDK with a real worker: it is a model in /v1/models at
its price (base + the builder's markup), it answers with its instructions and knowledge
applied server-side and names the files it drew on, the customer pays exactly its tokens at
that price from credits, and earnings split the money between the base model's publisher
and the builder to the µ¢."""

import openai
import pytest
from django.contrib.auth.models import Permission

from billing.models import BuilderEarningsEntry, CreditAccount, CreditHold, UsageEarningsEntry
from billing.selectors import credit_ledger_mismatches
from billing.services import credits_grant, usage_earnings_roll_up
from inference.models import UsageRecord
from store.gpts import services
from store.gpts.models import Gpt
from tests.store.gpts.builders import INPUT, MARKUP, OUTPUT, draft_gpt, metered_listing, verified
from tests.support.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CENT = 1_000_000  # µ¢
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture
def builder():
    return UserFactory()


@pytest.fixture
def gpt(tiny_model_dirs, builder):
    curator = UserFactory(is_staff=True)
    curator.user_permissions.add(Permission.objects.get(codename="change_gpt"))
    gpt = draft_gpt(builder, metered_listing(tiny_model_dirs[True]))
    services.knowledge_add(
        gpt=gpt, actor=builder, name="capitals.md", data=b"Paris is the capital of France."
    )
    verified(builder)
    gpt = services.gpt_publish(gpt=gpt, actor=builder, visibility=Gpt.Visibility.PUBLIC)
    return services.gpt_approve(gpt=gpt, actor=curator)


@pytest.fixture
def sdk(asgi_server, celery_worker, api_key_for):
    def make(user):
        _, secret = api_key_for(user)
        return openai.OpenAI(
            base_url=f"{asgi_server}/v1", api_key=secret, max_retries=0, timeout=60
        )

    return make


def test_a_gpt_is_a_model_at_its_price(sdk, user, gpt):
    models = {model.id: model for model in sdk(user).models.list().data}
    card = models[gpt.model_id]
    assert card.owned_by == gpt.profile.handle
    assert card.model_extra["base_model"] == gpt.base_listing.model_id
    # Major units per token: (20 + 7) and (40 + 7) µ¢ per token.
    assert card.model_extra["pricing"] == {"prompt": "0.00000027", "completion": "0.00000047"}
    assert sdk(user).models.retrieve(gpt.model_id).id == gpt.model_id


def test_a_gpt_answers_and_the_money_splits_between_publisher_and_builder(
    sdk, user, gpt, builder, staff_user
):
    credits_grant(user=user, cents=100, actor=staff_user, reason="test")
    answer = sdk(user).chat.completions.create(
        model=gpt.model_id, messages=QUESTION, max_tokens=6, temperature=0
    )
    assert answer.model == gpt.model_id
    assert answer.model_extra["sources"] == [{"file": "capitals.md"}]
    usage = answer.usage
    tokens = usage.prompt_tokens + usage.completion_tokens
    cost = usage.prompt_tokens * (INPUT + MARKUP) + usage.completion_tokens * (OUTPUT + MARKUP)
    assert CreditAccount.objects.get(user=user).available == 100 * CENT - cost

    record = UsageRecord.objects.get(user=user)
    assert (record.gpt_id, record.gpt_revision_id, record.cost) == (gpt.pk, gpt.published_id, cost)
    hold = CreditHold.objects.get(request_id=record.request_id)
    assert (hold.markup_used, hold.gpt_id) == (tokens * MARKUP, gpt.pk)

    usage_earnings_roll_up()
    publisher_part = UsageEarningsEntry.objects.get(listing=gpt.base_listing)
    builder_part = BuilderEarningsEntry.objects.get(gpt=gpt)
    assert builder_part.builder_id == builder.pk
    assert builder_part.gross == tokens * MARKUP
    assert publisher_part.gross == cost - tokens * MARKUP
    assert publisher_part.gross + builder_part.gross == cost
    assert credit_ledger_mismatches() == []


def test_the_instructions_reach_the_model_but_never_the_customer(sdk, user, gpt, staff_user):
    credits_grant(user=user, cents=100, actor=staff_user, reason="test")
    plain = sdk(user).chat.completions.create(
        model=gpt.base_listing.model_id, messages=QUESTION, max_tokens=4, temperature=0
    )
    answer = sdk(user).chat.completions.create(
        model=gpt.model_id, messages=QUESTION, max_tokens=4, temperature=0
    )
    # Instructions and the knowledge passage are prompt tokens the customer pays for...
    assert answer.usage.prompt_tokens > plain.usage.prompt_tokens + 20
    # ...but nothing of them is in what the customer gets back.
    assert "patient tutor" not in answer.model_dump_json()


def test_a_private_gpt_is_no_model_for_anyone_else(sdk, user, builder, tiny_model_dirs):
    mine = draft_gpt(builder, metered_listing(tiny_model_dirs[True]), name="Private one")
    services.gpt_publish(gpt=mine, actor=builder, visibility=Gpt.Visibility.PRIVATE)
    with pytest.raises(openai.NotFoundError) as missing:
        sdk(user).chat.completions.create(model=mine.model_id, messages=QUESTION, max_tokens=2)
    assert missing.value.body["code"] == "model_not_found"
    assert mine.model_id not in {m.id for m in sdk(user).models.list().data}
    assert mine.model_id in {m.id for m in sdk(builder).models.list().data}


def test_too_little_credit_is_a_402_and_nothing_is_held(sdk, user, gpt):
    with pytest.raises(openai.APIStatusError) as refused:
        sdk(user).chat.completions.create(model=gpt.model_id, messages=QUESTION, max_tokens=4)
    assert refused.value.status_code == 402
    assert refused.value.body["code"] == "insufficient_quota"
    assert not CreditHold.objects.exists()
    assert not UsageRecord.objects.exists()


def test_a_gpt_answers_chat_completions_only(sdk, user, gpt, staff_user):
    credits_grant(user=user, cents=100, actor=staff_user, reason="test")
    with pytest.raises(openai.BadRequestError) as refused:
        sdk(user).completions.create(model=gpt.model_id, prompt="Hello", max_tokens=2)
    assert refused.value.body["code"] == "unsupported_endpoint"
    assert CreditAccount.objects.get(user=user).available == 100 * CENT
