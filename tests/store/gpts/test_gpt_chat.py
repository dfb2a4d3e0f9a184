"""A GPT's chat with a real worker: a turn is recorded with its answer and sources, the
conversation carries on, the stop button stops only its own answer and keeps what was
written, a refused turn leaves no message behind, and conversations are their owner's."""

import asyncio

import pytest

from billing.models import CreditAccount, CreditHold
from billing.services import credits_grant
from config.api_errors import ApplicationError
from inference.completions import Done, follow
from inference.models import UsageRecord
from inference.services import StartedCompletion, completion_stop
from store.gpts import services
from store.gpts.models import ChatMessage, Conversation
from tests.store.gpts.builders import draft_gpt, metered_listing

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def gpt(tiny_model_dirs, other_user):
    gpt = draft_gpt(other_user, metered_listing(tiny_model_dirs[True]), max_tokens=8)
    services.knowledge_add(
        gpt=gpt, actor=other_user, name="capitals.md", data=b"Paris is the capital of France."
    )
    return services.gpt_publish(gpt=gpt, actor=other_user, visibility="link")


def answer(conversation, started, *, stop_with=None) -> tuple[str, Done]:
    async def run():
        parts, done = [], None
        async for event in follow(started):
            if stop_with is not None and not parts:
                await asyncio.to_thread(stop_with)
            parts.append(getattr(event, "text", ""))
            done = event if isinstance(event, Done) else done
        return "".join(parts), done

    text, done = asyncio.run(run())
    services.chat_answer_record(
        conversation=conversation, started=started, text=text, finish_reason="stop"
    )
    return text, done


def test_a_turn_is_recorded_with_its_sources_and_the_conversation_carries_on(
    celery_worker, user, gpt, staff_user
):
    credits_grant(user=user, cents=100, actor=staff_user, reason="test")
    conversation = services.conversation_start(gpt=gpt, user=user, first_message="Capital?")
    started = services.chat_turn_start(
        conversation=conversation, user=user, text="What is the capital of France?"
    )
    assert started.sources == ({"file": "capitals.md"},)
    answer(conversation, started)
    second = services.chat_turn_start(
        conversation=conversation, user=user, text="And the capital of Germany?"
    )
    assert second.sources == ({"file": "capitals.md"},)
    answer(conversation, second)

    roles = list(conversation.messages.values_list("role", flat=True))
    assert roles == ["user", "assistant", "user", "assistant"]
    assert conversation.messages.filter(role="assistant").first().sources == [
        {"file": "capitals.md"}
    ]
    first_record, second_record = UsageRecord.objects.filter(user=user).order_by("id")
    # The second turn sent the same instructions and passage, plus the first question and answer.
    assert second_record.prompt_tokens > first_record.prompt_tokens
    assert {first_record.source, second_record.source} == {"gpt_chat"}


def test_the_stop_button_stops_only_its_own_answer(celery_worker, user, gpt, staff_user):
    credits_grant(user=user, cents=100, actor=staff_user, reason="test")
    # Greedy: the same long answer every time (a sampled one may end on its own first).
    services.gpt_update(gpt=gpt, actor=gpt.builder, max_tokens=400, temperature=0)
    gpt = services.gpt_publish(gpt=gpt, actor=gpt.builder, visibility="link")
    conversation = services.conversation_start(gpt=gpt, user=user, first_message="Long")
    started = services.chat_turn_start(conversation=conversation, user=user, text="Tell a story")
    assert not completion_stop(request_id=started.request_id, user=gpt.builder)

    _, done = answer(
        conversation,
        started,
        stop_with=lambda: completion_stop(request_id=started.request_id, user=user),
    )
    record = UsageRecord.objects.get(request_id=started.request_id)
    assert record.status == "cancelled" and record.completion_tokens < 400
    assert done.completion_tokens == record.completion_tokens  # what was written is charged
    assert CreditHold.objects.get(request_id=started.request_id).status == "settled"


def test_a_refused_turn_leaves_no_message_and_no_hold(celery_worker, user, gpt):
    conversation = services.conversation_start(gpt=gpt, user=user, first_message="Hi")
    with pytest.raises(ApplicationError) as refused:
        services.chat_turn_start(conversation=conversation, user=user, text="Hi")
    assert (refused.value.status, refused.value.code) == (402, "insufficient_quota")
    assert not ChatMessage.objects.exists()
    assert not CreditHold.objects.exists()
    assert CreditAccount.objects.filter(user=user, available__gt=0).count() == 0


def test_conversations_are_their_owners_only(user, other_user, gpt, staff_user):
    conversation = Conversation.objects.create(gpt=gpt, user=user, title="Mine")
    for attempt in (
        lambda: services.conversation_rename(conversation=conversation, user=other_user, title="x"),
        lambda: services.conversation_delete(conversation=conversation, user=other_user),
        lambda: services.chat_turn_start(conversation=conversation, user=other_user, text="x"),
    ):
        with pytest.raises(ApplicationError) as refused:
            attempt()
        assert (refused.value.status, refused.value.code) == (404, "not_found")
    services.conversation_rename(conversation=conversation, user=user, title="  Trip   plans ")
    conversation.refresh_from_db()
    assert conversation.title == "Trip plans"
    services.conversation_delete(conversation=conversation, user=user)
    assert not Conversation.objects.exists()


def test_a_nul_character_a_model_writes_is_kept_as_a_replacement_character(user, gpt):
    # PostgreSQL refuses NUL in text; a tiny random model wrote one and the answer was lost.
    conversation = services.conversation_start(gpt=gpt, user=user, first_message="Hi\x00 there")
    started = StartedCompletion(
        request_id="r-nul", model_id=gpt.model_id, created=0, prompt_tokens=3, max_tokens=8,
        n=1, access="credits", listing_id=gpt.base_listing_id,
    )  # fmt: skip
    message = services.chat_answer_record(
        conversation=conversation, started=started, text="a\x00b", finish_reason="stop"
    )
    message.refresh_from_db()
    assert message.content == "a\ufffdb"
    assert conversation.title == "Hi\ufffd there"
