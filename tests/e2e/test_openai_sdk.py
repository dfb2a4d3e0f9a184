"""The official openai SDK against the store under uvicorn, with a real Celery worker and a
tiny model: listing models, chat and text completions (streaming or not), every error the
API promises, a client that disconnects mid-stream, and a model no worker serves."""

import asyncio
import functools
import time

import httpx
import openai
import pytest

from billing.models import QuotaHold
from billing.selectors import quota_ledger_mismatches
from inference.models import BlockedPattern, UsageRecord
from inference.safeguards import patterns_changed
from inference.tokenization import chat_prompt_ids, tokenizer_for
from tests.support.factories import PublisherFactory
from tests.support.processes import UNSERVED_MODEL
from tests.support.servable import (
    SERVABLE_CONTEXT,
    available_tokens,
    grant_purchase,
    grant_rental,
    servable_listing,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HELLO = [{"role": "user", "content": "Say hello"}]
WEATHER = [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}]


@pytest.fixture
def listing(tiny_model_dirs):
    return servable_listing(tiny_model_dirs[True])


@pytest.fixture
def sdk(asgi_server, celery_worker, api_key_for):
    """An SDK client for a user's new key (no retries: each test sees the first answer)."""

    def make(user, **limits):
        _, secret = api_key_for(user, **limits)
        return openai.OpenAI(
            base_url=f"{asgi_server}/v1", api_key=secret, max_retries=0, timeout=60
        )

    return make


def wait_for(predicate, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_it_lists_the_models_the_customer_may_use(sdk, user, other_user, listing, tiny_model_dirs):
    grant_purchase(user, listing)
    servable_listing(tiny_model_dirs[True])  # approved, but not this customer's

    models = sdk(user).models.list()
    assert [model.id for model in models.data] == [listing.model_id]
    card = sdk(user).models.retrieve(listing.model_id)
    assert card.id == listing.model_id
    assert card.model_extra["context_length"] == SERVABLE_CONTEXT
    assert sdk(other_user).models.list().data == []
    with pytest.raises(openai.NotFoundError):
        sdk(other_user).models.retrieve(listing.model_id)


def test_a_rental_chat_answers_and_charges_exactly_what_was_used(sdk, user, listing):
    grant_rental(user, listing, tokens=5000)
    answer = sdk(user).chat.completions.create(
        model=listing.model_id, messages=HELLO, max_tokens=8, temperature=0
    )

    prompt_tokens = len(
        chat_prompt_ids(storage_path=listing.versions.get().storage_path, messages=HELLO)
    )
    assert answer.object == "chat.completion"
    assert answer.model == listing.model_id
    assert answer.choices[0].message.role == "assistant"
    assert answer.choices[0].message.content
    assert answer.choices[0].finish_reason == "length"
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (prompt_tokens, 8)
    assert answer.usage.total_tokens == prompt_tokens + 8
    assert available_tokens(user, listing) == 5000 - prompt_tokens - 8
    record = UsageRecord.objects.get()
    assert (record.access, record.charged_tokens, record.status) == (
        "rental",
        prompt_tokens + 8,
        "ok",
    )
    assert QuotaHold.objects.get().status == "settled"


def test_streaming_gives_the_same_answer_in_openai_chunks_with_usage(sdk, user, listing):
    grant_purchase(user, listing)
    client = sdk(user)
    whole = client.chat.completions.create(
        model=listing.model_id, messages=HELLO, max_tokens=12, temperature=0
    )
    chunks = list(
        client.chat.completions.create(
            model=listing.model_id,
            messages=HELLO,
            max_tokens=12,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].object == "chat.completion.chunk"
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    reasons = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert reasons == ["length"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == 12
    assert UsageRecord.objects.count() == 2
    assert set(UsageRecord.objects.values_list("charged_tokens", flat=True)) == {
        0
    }  # purchased: unlimited


def test_text_completions_work_streaming_or_not_with_n_choices(sdk, user, listing):
    grant_purchase(user, listing)
    client = sdk(user)
    answer = client.completions.create(
        model=listing.model_id, prompt="Once upon a time", max_tokens=6, n=2, seed=7
    )
    assert answer.object == "text_completion"
    assert sorted(choice.index for choice in answer.choices) == [0, 1]
    assert answer.usage.completion_tokens == 12
    stream = client.completions.create(
        model=listing.model_id, prompt="Once upon a time", max_tokens=5, temperature=0, stream=True
    )
    text = "".join(chunk.choices[0].text for chunk in stream if chunk.choices)
    again = client.completions.create(
        model=listing.model_id, prompt="Once upon a time", max_tokens=5, temperature=0
    )
    assert text == again.choices[0].text


def test_each_sampling_parameter_reaches_the_answer(sdk, user, listing):
    grant_purchase(user, listing)
    client = sdk(user)

    def chat(**params):
        return client.chat.completions.create(model=listing.model_id, messages=HELLO, **params)

    greedy = chat(max_tokens=10, temperature=0).choices[0].message.content
    # max_completion_tokens wins over max_tokens when both are sent.
    assert chat(max_completion_tokens=3, max_tokens=7, temperature=0).usage.completion_tokens == 3
    # top_p=0 keeps only the likeliest token: a sampled answer becomes the greedy one.
    assert chat(max_tokens=10, temperature=1, top_p=0).choices[0].message.content == greedy
    # The same seed samples the same answer.
    seeded = [chat(max_tokens=10, temperature=1, seed=42).choices[0].message.content for _ in "ab"]
    assert seeded[0] == seeded[1]
    # A logit bias of 100 forces its token; one outside the vocabulary is the client's error.
    tokenizer = tokenizer_for(storage_path=listing.versions.get().storage_path)
    forced = tokenizer(" sea")["input_ids"][-1]
    biased = client.chat.completions.create(
        model=listing.model_id,
        messages=HELLO,
        max_tokens=4,
        temperature=0,
        logit_bias={str(forced): 100},
    )
    assert biased.choices[0].message.content == tokenizer.decode([forced] * 4)
    with pytest.raises(openai.BadRequestError) as outside:
        chat(max_tokens=4, logit_bias={"9999999": 5})
    assert "vocabulary" in outside.value.message
    # stop may be one string.
    stop = greedy[len(greedy) // 2 :][:2]
    cut = chat(max_tokens=10, temperature=0, stop=stop).choices[0]
    assert (cut.message.content, cut.finish_reason) == (greedy[: greedy.index(stop)], "stop")


def test_logprobs_describe_each_generated_token_streaming_or_not(sdk, user, listing):
    grant_purchase(user, listing)
    client = sdk(user)
    create = functools.partial(
        client.chat.completions.create,
        model=listing.model_id,
        messages=HELLO,
        max_tokens=6,
        temperature=0,
        logprobs=True,
        top_logprobs=3,
    )
    answer = create().choices[0]
    content = answer.logprobs.content
    assert len(content) == 6
    assert "".join(token.token for token in content) == answer.message.content
    for token in content:
        # Greedy: the chosen token is the likeliest, first among the alternatives.
        assert len(token.top_logprobs) == 3
        assert token.top_logprobs[0].token == token.token
        assert token.top_logprobs[0].logprob == pytest.approx(token.logprob)
        assert token.logprob <= 0
        assert bytes(token.bytes).decode() == token.token
    streamed = [
        token
        for chunk in create(stream=True)
        for choice in chunk.choices
        if choice.logprobs
        for token in choice.logprobs.content
    ]
    # The same tokens; the same logprobs up to float rounding (the engine may run a step on
    # one thread or on all cores, which sums in another order).
    assert [t.token for t in streamed] == [t.token for t in content]
    assert [t.logprob for t in streamed] == pytest.approx([t.logprob for t in content], abs=1e-4)
    assert (
        client.chat.completions.create(model=listing.model_id, messages=HELLO, max_tokens=2)
        .choices[0]
        .logprobs
        is None
    )  # not asked, not sent

    text = client.completions.create(
        model=listing.model_id, prompt="Once", max_tokens=4, temperature=0, logprobs=2
    ).choices[0]
    # The same prompt sent as token ids gets the same answer.
    ids = tokenizer_for(storage_path=listing.versions.get().storage_path)("Once")["input_ids"]
    by_ids = client.completions.create(
        model=listing.model_id, prompt=ids, max_tokens=4, temperature=0
    )
    assert by_ids.choices[0].text == text.text
    assert by_ids.usage.prompt_tokens == len(ids)
    assert "".join(text.logprobs.tokens) == text.text
    assert len(text.logprobs.token_logprobs) == 4
    assert all(len(alternatives) == 2 for alternatives in text.logprobs.top_logprobs)


def test_streaming_n_choices_streams_each_choice_and_no_usage_unless_asked(sdk, user, listing):
    grant_purchase(user, listing)
    create = functools.partial(
        sdk(user).chat.completions.create,
        model=listing.model_id,
        messages=HELLO,
        max_tokens=8,
        temperature=0,
    )
    greedy = create()
    chunks = list(create(n=2, stream=True))
    texts = {0: "", 1: ""}
    reasons = {}
    for chunk in chunks:
        assert chunk.usage is None
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
            if choice.finish_reason:
                reasons[choice.index] = choice.finish_reason
    assert texts == {0: greedy.choices[0].message.content, 1: greedy.choices[0].message.content}
    assert reasons == {0: "length", 1: "length"}
    assert UsageRecord.objects.order_by("-created_at").first().completion_tokens == 16


def test_a_model_without_chat_template_gets_a_plain_role_prefixed_prompt(
    sdk, user, tiny_model_dirs
):
    plain = servable_listing(tiny_model_dirs[False], chat_template=False)
    grant_purchase(user, plain)
    answer = sdk(user).chat.completions.create(
        model=plain.model_id, messages=HELLO, max_tokens=3, temperature=0
    )
    tokenizer_count = len(
        chat_prompt_ids(storage_path=plain.versions.get().storage_path, messages=HELLO)
    )
    assert answer.usage.prompt_tokens == tokenizer_count
    assert answer.choices[0].finish_reason == "length"


def test_the_sdk_raises_its_own_exceptions_for_each_error(
    sdk, user, other_user, listing, asgi_server
):
    grant_rental(user, listing, tokens=30)
    client = sdk(user)
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(
            base_url=f"{asgi_server}/v1", api_key="gpts_bad_key", max_retries=0
        ).models.list()
    with pytest.raises(openai.PermissionDeniedError):
        sdk(other_user).chat.completions.create(model=listing.model_id, messages=HELLO)
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="nobody/nothing", messages=HELLO)
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as too_long:
        client.chat.completions.create(model=listing.model_id, messages=HELLO, max_tokens=5000)
    assert too_long.value.code == "context_length_exceeded"
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=listing.model_id, messages=HELLO, temperature=9)
    with pytest.raises(openai.APIStatusError) as broke:
        client.chat.completions.create(model=listing.model_id, messages=HELLO, max_tokens=100)
    assert broke.value.status_code == 402
    assert broke.value.code == "insufficient_quota"
    assert available_tokens(user, listing) == 30
    with pytest.raises(openai.BadRequestError) as unsupported:
        client.chat.completions.create(model=listing.model_id, messages=HELLO, tools=WEATHER)
    assert (unsupported.value.code, unsupported.value.param) == ("unsupported_parameter", "tools")
    BlockedPattern.objects.create(pattern="hello")
    patterns_changed()  # the server's cached list (30 s) would not know it yet
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model=listing.model_id, messages=HELLO)
    assert refused.value.code == "content_policy_violation"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(
            base_url=f"{asgi_server}/v1", api_key="gpts_bad_key", max_retries=0
        ).chat.completions.create(model=listing.model_id, messages=HELLO)
    assert available_tokens(user, listing) == 30


def test_key_limits_raise_rate_limit_errors_with_retry_after(sdk, user, listing):
    grant_purchase(user, listing)
    client = sdk(user, requests_per_minute=1)
    client.chat.completions.create(model=listing.model_id, messages=HELLO, max_tokens=2)
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model=listing.model_id, messages=HELLO, max_tokens=2)
    assert 1 <= int(limited.value.response.headers["Retry-After"]) <= 60


def test_a_model_no_worker_serves_answers_503_and_keeps_the_quota(sdk, user, tiny_model_dirs):
    publisher_slug, slug = UNSERVED_MODEL.split("/")
    unserved = servable_listing(
        tiny_model_dirs[True], publisher=PublisherFactory(slug=publisher_slug), slug=slug
    )
    grant_rental(user, unserved, tokens=1000)
    with pytest.raises(openai.InternalServerError) as unavailable:
        sdk(user).chat.completions.create(model=unserved.model_id, messages=HELLO, max_tokens=10)
    assert unavailable.value.status_code == 503
    assert available_tokens(user, unserved) == 1000
    assert not QuotaHold.objects.filter(status="held").exists()


def test_a_client_that_disconnects_mid_stream_is_charged_only_what_was_produced(
    asgi_server, celery_worker, user, listing, api_key_for
):
    grant_rental(user, listing, tokens=5000)
    _, secret = api_key_for(user)
    body = {
        "model": listing.model_id,
        "messages": HELLO,
        "max_tokens": 900,
        "temperature": 0,
        "stream": True,
    }
    with httpx.stream(
        "POST",
        f"{asgi_server}/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {secret}"},
        timeout=30,
    ) as response:
        assert response.status_code == 200
        received = 0
        for line in response.iter_lines():
            if line.startswith("data: {") and '"content"' in line:
                received += 1
            if received >= 5:
                break
    # Leaving the block closes the connection: the server cancels the generation and settles.
    try:
        record = wait_for(lambda: UsageRecord.objects.filter(status="cancelled").first())
    except AssertionError:
        raise AssertionError(
            f"no cancelled record; records: {list(UsageRecord.objects.values())}; "
            f"holds: {list(QuotaHold.objects.values())}"
        ) from None
    assert 5 <= record.completion_tokens < 900
    assert record.finish_reason == "cancelled"
    assert record.charged_tokens == record.prompt_tokens + record.completion_tokens
    assert available_tokens(user, listing) == 5000 - record.charged_tokens
    assert QuotaHold.objects.get().status == "settled"


def test_a_client_that_gives_up_waiting_for_a_whole_answer_pays_only_what_was_produced(
    asgi_server, celery_worker, user, listing, api_key_for
):
    grant_rental(user, listing, tokens=5000)
    _, secret = api_key_for(user)
    body = {"model": listing.model_id, "messages": HELLO, "max_tokens": 900, "temperature": 0}
    with pytest.raises(httpx.ReadTimeout):  # 900 tokens take seconds; the client waits 0.3 s
        httpx.post(
            f"{asgi_server}/v1/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {secret}"},
            timeout=httpx.Timeout(10, read=0.3),
        )
    record = wait_for(lambda: UsageRecord.objects.filter(status="cancelled").first())
    assert record.completion_tokens < 900
    if record.completion_tokens == 0:
        # Stopped before its first token (still queued, or in its prefill): nothing to charge.
        assert (record.prompt_tokens, record.charged_tokens) == (0, 0)
        assert QuotaHold.objects.get().status == "released"
    else:
        assert record.prompt_tokens > 0
        assert record.charged_tokens == record.prompt_tokens + record.completion_tokens
        assert QuotaHold.objects.get().status == "settled"
    assert available_tokens(user, listing) == 5000 - record.charged_tokens


def test_settling_twice_changes_nothing(sdk, user, listing):
    from inference.services import completion_settle

    grant_rental(user, listing, tokens=5000)
    answer = sdk(user).chat.completions.create(
        model=listing.model_id, messages=HELLO, max_tokens=4, temperature=0
    )
    balance = available_tokens(user, listing)
    record = UsageRecord.objects.get()
    again = completion_settle(request_id=record.request_id, prompt_tokens=1, completion_tokens=999)
    assert again == record
    assert available_tokens(user, listing) == balance == 5000 - answer.usage.total_tokens


def test_a_model_that_fails_to_load_answers_500_and_releases_the_hold(sdk, user, tiny_model_dirs):
    import shutil
    from pathlib import Path

    from django.conf import settings

    broken = servable_listing(tiny_model_dirs[True])
    folder = Path(settings.MEDIA_ROOT) / broken.versions.get().storage_path
    # The tokenizer still loads on the web side; the worker finds no weights.
    (folder / "model.safetensors").unlink()
    grant_rental(user, broken, tokens=1000)
    with pytest.raises(openai.InternalServerError) as failed:
        sdk(user).chat.completions.create(model=broken.model_id, messages=HELLO, max_tokens=10)
    assert failed.value.status_code == 500
    assert available_tokens(user, broken) == 1000
    assert QuotaHold.objects.get().status == "released"
    assert UsageRecord.objects.get().status == "error"
    shutil.rmtree(folder)


def test_a_broker_that_is_down_answers_503_and_releases_the_hold(
    celery_worker, user, listing, api_key_for, tmp_path
):
    from tests.support.processes import start_asgi_server, stop_process

    grant_rental(user, listing, tokens=1000)
    _, secret = api_key_for(user)
    # The worker is up (its heartbeat is fresh) but this web server's broker is unreachable.
    process, base = start_asgi_server(
        log_path=tmp_path / "uvicorn.log", extra_env={"CELERY_BROKER_URL": "redis://127.0.0.1:1/0"}
    )
    try:
        client = openai.OpenAI(base_url=f"{base}/v1", api_key=secret, max_retries=0, timeout=60)
        with pytest.raises(openai.InternalServerError) as unavailable:
            client.chat.completions.create(model=listing.model_id, messages=HELLO, max_tokens=10)
    finally:
        stop_process(process)
    assert unavailable.value.status_code == 503
    assert unavailable.value.code == "broker_unavailable"
    assert available_tokens(user, listing) == 1000
    assert QuotaHold.objects.get().status == "released"


def test_stop_sequences_cut_the_answer_with_finish_reason_stop(sdk, user, listing):
    grant_purchase(user, listing)
    client = sdk(user)
    prompt = [{"role": "user", "content": "Tell me a story."}]
    full = client.chat.completions.create(
        model=listing.model_id, messages=prompt, max_tokens=16, temperature=0
    )
    text = full.choices[0].message.content
    stop = text[len(text) // 2 :][:2]
    cut = client.chat.completions.create(
        model=listing.model_id, messages=prompt, max_tokens=16, temperature=0, stop=[stop]
    )
    assert cut.choices[0].finish_reason == "stop"
    assert cut.choices[0].message.content == text[: text.index(stop)]
    assert cut.usage.completion_tokens < 16


def test_an_answer_that_writes_a_blocked_word_stops_with_content_filter(sdk, user, listing):
    from inference.safeguards import fold

    grant_rental(user, listing, tokens=5000)
    client = sdk(user)
    ask = functools.partial(
        client.chat.completions.create,
        model=listing.model_id,
        messages=HELLO,
        max_tokens=24,
        temperature=0,
    )
    text = ask().choices[0].message.content
    # The start of the greedy answer (the tiny model writes ">>>>…"), which the prompt does
    # not hold; staff block it in fullwidth characters (folded, it is the answer's own).
    word = fold(text)[:6]
    assert len(word) == 6 and word not in fold("Say hello")
    BlockedPattern.objects.create(pattern="".join(chr(ord(c) + 0xFEE0) for c in word))
    patterns_changed()
    before = available_tokens(user, listing)

    pieces, reasons, usage = [], [], None
    for chunk in ask(stream=True, stream_options={"include_usage": True}):
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            reasons += [choice.finish_reason] if choice.finish_reason else []
        usage = chunk.usage or usage
    shown = "".join(pieces)
    assert reasons == ["content_filter"]
    # The answer up to the blocked text, without it.
    assert text.startswith(shown) and word not in fold(shown) and len(shown) < len(text)
    # What the worker produced is charged, no more.
    record = wait_for(lambda: UsageRecord.objects.filter(finish_reason="content_filter").first())
    assert record.completion_tokens == usage.completion_tokens <= 24
    assert available_tokens(user, listing) == before - usage.total_tokens

    whole = ask().choices[0]
    assert whole.finish_reason == "content_filter"
    assert text.startswith(whole.message.content) and word not in fold(whole.message.content)


def test_two_hundred_concurrent_calls_on_a_pack_for_a_fifth_never_overspend(
    asgi_server, celery_worker, api_key_for, user, listing
):
    # Each call holds its prompt plus 8 tokens at once; the pack covers 40 of them at a time.
    prompt_tokens = len(
        chat_prompt_ids(storage_path=listing.versions.get().storage_path, messages=HELLO)
    )
    pack = 40 * (prompt_tokens + 8)
    grant_rental(user, listing, tokens=pack)
    _, secret = api_key_for(user)

    async def one(client: openai.AsyncOpenAI, index: int) -> tuple[int, str, int]:
        try:
            if index % 2:
                stream = await client.chat.completions.create(
                    model=listing.model_id, messages=HELLO, max_tokens=8, temperature=0,
                    stream=True, stream_options={"include_usage": True},
                )  # fmt: skip
                used = 0
                async for chunk in stream:
                    used = chunk.usage.total_tokens if chunk.usage else used
                return 200, "", used
            answer = await client.chat.completions.create(
                model=listing.model_id, messages=HELLO, max_tokens=8, temperature=0
            )
            return 200, "", answer.usage.total_tokens
        except openai.APIStatusError as exc:
            return exc.status_code, exc.code or "", 0

    async def burst() -> list[tuple[int, str, int]]:
        client = openai.AsyncOpenAI(
            base_url=f"{asgi_server}/v1", api_key=secret, max_retries=0, timeout=300
        )
        async with client:
            return await asyncio.gather(*[one(client, i) for i in range(200)])

    results = asyncio.run(burst())

    assert {(status, code) for status, code, _ in results} <= {
        (200, ""),
        (402, "insufficient_quota"),
    }, results
    answered = [used for status, _, used in results if status == 200]
    refused = sum(1 for status, _, _ in results if status == 402)
    assert len(answered) >= 40 and refused > 0
    records = UsageRecord.objects.filter(user=user)
    assert records.count() == len(answered)
    assert sum(records.values_list("charged_tokens", flat=True)) == sum(answered)
    assert available_tokens(user, listing) == pack - sum(answered) >= 0
    assert not QuotaHold.objects.filter(status="held").exists()
    assert quota_ledger_mismatches() == []
