"""The batching scheduler computes what transformers computes, whatever shares the batch."""

import dataclasses
import functools
import threading

import pytest
import torch
from transformers import AutoModelForCausalLM

from inference.engine.model_cache import ModelCache
from inference.engine.requests import ContextTooLong
from inference.engine.sampling import Steering
from inference.engine.scheduler import Scheduler
from tests.support.models import build_model_folder

PROMPTS = [
    "Hello",
    "The quick brown fox jumps over the lazy",
    "Once upon a time there was a small model that answered",
    "def add(a, b):\n",
    "Café, naïve, déjà vu — unicode text with accents and emoji 🙂",
]


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def tiny(request, tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    build_model_folder(root / request.param, kind=request.param, seed=11)
    cache = ModelCache(root=root, budget_bytes=2**30)
    return cache.acquire(request.param)


@functools.cache
def plain_model(path):
    """The model as transformers loads it: nn.Linear layers, no packed weights."""
    return AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32).eval()


def reference(loaded, prompt_ids: list[int], max_new_tokens: int) -> list[int]:
    """transformers' own greedy answer for one prompt alone, without padding, computed by
    the unpacked model (so the engine's packed weights are checked too)."""
    ids = torch.tensor([prompt_ids])
    output = plain_model(loaded.path).generate(
        ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens, do_sample=False
    )
    return output[0, len(prompt_ids) :].tolist()


def wait(request, timeout: float = 60) -> list[dict]:
    assert request.done.wait(timeout), "the engine did not finish the request"
    events = []
    while not request.events.empty():
        events.append(request.events.get_nowait())
    return events


def text_of(events: list[dict], index: int = 0) -> str:
    return "".join(e["text"] for e in events if e["type"] == "delta" and e["index"] == index)


def test_greedy_answers_submitted_together_equal_transformers_generate(tiny):
    scheduler = Scheduler()
    prompt_ids = [tiny.tokenizer(p)["input_ids"] for p in PROMPTS]

    requests = [
        scheduler.submit(model=tiny, prompt_ids=ids, max_tokens=24, temperature=0)
        for ids in prompt_ids
    ]
    for request in requests:
        wait(request)

    for request, ids in zip(requests, prompt_ids, strict=True):
        assert request.choices[0].token_ids == reference(tiny, ids, 24)
    assert scheduler.stats.max_rows == len(PROMPTS)


def test_requests_joining_mid_decode_get_the_answers_they_would_get_alone(tiny):
    scheduler = Scheduler()
    prompt_ids = [tiny.tokenizer(p)["input_ids"] for p in PROMPTS]
    first = scheduler.submit(model=tiny, prompt_ids=prompt_ids[0], max_tokens=40, temperature=0)
    joined = []
    for ids in prompt_ids[1:]:
        # Wait for a few more decode steps of the running batch before the next one joins.
        target = scheduler.stats.decode_steps + 3
        while scheduler.stats.decode_steps < target and not first.finished:
            threading.Event().wait(0.001)
        joined.append(scheduler.submit(model=tiny, prompt_ids=ids, max_tokens=20, temperature=0))

    for request in [first, *joined]:
        wait(request)

    assert first.choices[0].token_ids == reference(tiny, prompt_ids[0], 40)
    for request, ids in zip(joined, prompt_ids[1:], strict=True):
        assert request.choices[0].token_ids == reference(tiny, ids, 20)
    assert scheduler.stats.prefills >= 2, "the later requests joined a running batch"
    assert scheduler.stats.max_rows >= 2


def test_the_event_text_is_the_decoded_answer(tiny):
    scheduler = Scheduler()
    ids = tiny.tokenizer(PROMPTS[2])["input_ids"]

    events = wait(scheduler.submit(model=tiny, prompt_ids=ids, max_tokens=30, temperature=0))

    expected = tiny.tokenizer.decode(reference(tiny, ids, 30), skip_special_tokens=True)
    assert text_of(events) == expected
    assert events[0] == {"type": "start"}
    assert events[-1] == {
        "type": "done",
        "prompt_tokens": len(ids),
        "completion_tokens": events[-2]["completion_tokens"],
    }


def without_eos(loaded):
    """The same weights with no end token, so a random model never stops on its own and
    only the budget or the context can end a choice."""
    return dataclasses.replace(loaded, eos_token_ids=frozenset())


def test_max_tokens_ends_the_choice_with_length(tiny):
    scheduler = Scheduler()
    ids = tiny.tokenizer("Hello world")["input_ids"]

    events = wait(
        scheduler.submit(model=without_eos(tiny), prompt_ids=ids, max_tokens=7, temperature=0)
    )

    finish = next(e for e in events if e["type"] == "finish")
    assert (finish["finish_reason"], finish["completion_tokens"]) == ("length", 7)
    assert sum(e["tokens"] for e in events if e["type"] == "delta") == 7


def test_the_context_limit_ends_the_choice_with_length(tiny):
    scheduler = Scheduler()
    ids = tiny.tokenizer("Hello world")["input_ids"] * 20
    room = tiny.max_positions - len(ids)

    events = wait(
        scheduler.submit(model=without_eos(tiny), prompt_ids=ids, max_tokens=10_000, temperature=0)
    )

    finish = next(e for e in events if e["type"] == "finish")
    assert (finish["finish_reason"], finish["completion_tokens"]) == ("length", room)


def test_n_greedy_choices_are_identical_and_counted_separately(tiny):
    scheduler = Scheduler()
    ids = tiny.tokenizer("Once upon a time")["input_ids"]

    request = scheduler.submit(model=tiny, prompt_ids=ids, max_tokens=10, temperature=0, n=3)
    events = wait(request)

    answers = {text_of(events, i) for i in range(3)}
    assert len(answers) == 1
    assert [c.token_ids for c in request.choices] == [reference(tiny, ids, 10)] * 3
    assert events[-1]["completion_tokens"] == sum(c.tokens for c in request.choices)
    assert events[-1]["prompt_tokens"] == len(ids)


def test_n_sampled_choices_differ(tiny):
    scheduler = Scheduler()
    ids = tiny.tokenizer("Once upon a time")["input_ids"]

    request = scheduler.submit(
        model=tiny, prompt_ids=ids, max_tokens=12, temperature=1.0, n=4, seed=3
    )
    wait(request)

    assert len({tuple(c.token_ids) for c in request.choices}) > 1


def test_a_seed_gives_the_same_sample_whatever_shares_the_batch(tiny):
    scheduler = Scheduler()
    ids = tiny.tokenizer("The quick brown fox")["input_ids"]
    alone = scheduler.submit(
        model=tiny, prompt_ids=ids, max_tokens=16, temperature=0.9, top_p=0.9, seed=42
    )
    wait(alone)

    crowd = [
        scheduler.submit(
            model=tiny, prompt_ids=tiny.tokenizer(p)["input_ids"], max_tokens=16, temperature=1.0
        )
        for p in PROMPTS
    ]
    again = scheduler.submit(
        model=tiny, prompt_ids=ids, max_tokens=16, temperature=0.9, top_p=0.9, seed=42
    )
    other = scheduler.submit(
        model=tiny, prompt_ids=ids, max_tokens=16, temperature=0.9, top_p=0.9, seed=43
    )
    for request in [*crowd, again, other]:
        wait(request)

    assert again.choices[0].token_ids == alone.choices[0].token_ids
    assert other.choices[0].token_ids != alone.choices[0].token_ids


def test_cancel_finishes_the_request_with_cancelled_at_the_next_step(tiny):
    scheduler = Scheduler()
    ids = tiny.tokenizer("Once upon a time")["input_ids"]
    keeps_going = scheduler.submit(model=tiny, prompt_ids=ids, max_tokens=30, temperature=0)
    doomed = scheduler.submit(
        model=tiny, prompt_ids=ids, max_tokens=200, temperature=1.0, n=2, seed=1
    )

    first = doomed.events.get(timeout=30)
    assert first == {"type": "start"}
    doomed.cancel()
    events = wait(doomed)

    finishes = [e for e in events if e["type"] == "finish"]
    assert sorted(e["index"] for e in finishes) == [0, 1]
    assert {e["finish_reason"] for e in finishes} == {"cancelled"}
    assert events[-1]["type"] == "done"
    assert doomed.completion_tokens < 400
    wait(keeps_going)
    assert keeps_going.choices[0].token_ids == reference(tiny, ids, 30)


def test_a_timeout_ends_the_request_with_an_error_event(tiny):
    scheduler = Scheduler()
    request = scheduler.submit(
        model=tiny,
        prompt_ids=tiny.tokenizer("Hello")["input_ids"],
        max_tokens=200,
        temperature=1.0,
        seed=2,
    )
    request.events.get(timeout=30)
    request.cancel("timeout")

    events = wait(request)

    assert events[-1]["type"] == "error"
    assert events[-1]["code"] == "timeout"
    assert events[-1]["completion_tokens"] == request.completion_tokens


def test_a_prompt_that_fills_the_context_is_refused(tiny):
    scheduler = Scheduler()
    with pytest.raises(ContextTooLong):
        scheduler.submit(model=tiny, prompt_ids=[5] * tiny.max_positions, max_tokens=1)


def test_a_batch_never_grows_past_its_row_limit(tiny):
    scheduler = Scheduler(max_batch_rows=3)
    prompt_ids = [tiny.tokenizer(p)["input_ids"] for p in PROMPTS]

    requests = [
        scheduler.submit(model=tiny, prompt_ids=ids, max_tokens=8, temperature=0)
        for ids in prompt_ids
    ]
    for request in requests:
        wait(request)

    assert scheduler.stats.max_rows == 3
    for request, ids in zip(requests, prompt_ids, strict=True):
        assert request.choices[0].token_ids == reference(tiny, ids, 8)


def running_then_visitor(scheduler, tiny, short, long, *, tokens: tuple[int, int], after: int):
    """A greedy answer to ``short`` runs ``after`` decode steps, then ``long`` joins it;
    returns both requests once finished."""
    running = scheduler.submit(model=tiny, prompt_ids=short, max_tokens=tokens[0], temperature=0)
    while scheduler.stats.decode_steps < after:
        threading.Event().wait(0.001)
    visitor = scheduler.submit(model=tiny, prompt_ids=long, max_tokens=tokens[1], temperature=0)
    wait(visitor)
    wait(running)
    return running, visitor


def test_a_long_prompt_joining_and_leaving_does_not_change_the_running_answer(tiny):
    short = tiny.tokenizer("Hello")["input_ids"]
    long = tiny.tokenizer(PROMPTS[2] + " " + PROMPTS[1] + " " + PROMPTS[3])["input_ids"]
    # The running row gets left-padded to the long prompt's length, then trimmed when it leaves.
    running, visitor = running_then_visitor(Scheduler(), tiny, short, long, tokens=(40, 3), after=3)

    assert visitor.choices[0].token_ids == reference(tiny, long, 3)
    assert running.choices[0].token_ids == reference(tiny, short, 40)


def test_a_long_prompt_is_prefilled_in_chunks_while_the_running_answer_goes_on(tiny):
    scheduler = Scheduler(prefill_chunk_tokens=4)
    short = tiny.tokenizer("Hello")["input_ids"]
    long = tiny.tokenizer(" ".join(PROMPTS[1:4]))["input_ids"]
    assert len(long) >= 40  # at least 10 chunks of 4 tokens

    running, visitor = running_then_visitor(scheduler, tiny, short, long, tokens=(6, 5), after=1)

    # The running answer got its remaining tokens between the visitor's chunks: it was complete
    # before the visitor's prompt was, instead of waiting for the whole prefill.
    assert running.finished_at < visitor.first_token_at
    assert scheduler.stats.prefill_chunks >= 1 + len(long) // 4
    # Chunks change no answer.
    assert visitor.choices[0].token_ids == reference(tiny, long, 5)
    assert running.choices[0].token_ids == reference(tiny, short, 6)


def test_a_long_prompt_gets_a_lane_of_its_own_and_changes_no_running_answer(tiny):
    # No slack: a prompt twice as long as the running rows' columns gets its own KV cache.
    scheduler = Scheduler(lane_slack=0)
    shorts = [tiny.tokenizer(p)["input_ids"] for p in ("Hello", "Hi")]
    long = tiny.tokenizer(" ".join(PROMPTS[1:4]))["input_ids"]
    running = [
        scheduler.submit(model=tiny, prompt_ids=ids, max_tokens=tokens, temperature=0)
        for ids, tokens in zip(shorts, (30, 8), strict=True)
    ]
    while scheduler.stats.decode_steps < 2:
        threading.Event().wait(0.001)
    # The two running rows share one lane, or (on a loaded machine, "Hi" admitted a step
    # after "Hello") two: the visitor must add exactly one of its own.
    lanes_before = scheduler.stats.max_lanes
    visitor = scheduler.submit(model=tiny, prompt_ids=long, max_tokens=12, temperature=0)
    for request in (visitor, *running):
        wait(request)

    # Transformers' forward has one cache; the engine's own forward (Llama) attends per lane.
    assert scheduler.stats.max_lanes == lanes_before + (1 if tiny.runner is not None else 0)
    assert visitor.choices[0].token_ids == reference(tiny, long, 12)
    assert running[0].choices[0].token_ids == reference(tiny, shorts[0], 30)
    assert running[1].choices[0].token_ids == reference(tiny, shorts[1], 8)


def test_requests_cancelled_during_their_prefill_end_without_an_answer(tiny):
    scheduler = Scheduler(prefill_chunk_tokens=1)
    long = tiny.tokenizer(" ".join(PROMPTS))["input_ids"]
    request = scheduler.submit(model=tiny, prompt_ids=long, max_tokens=50, temperature=0)
    assert request.events.get(timeout=30) == {"type": "start"}

    request.cancel()
    events = wait(request)

    assert [e["type"] for e in events] == ["finish", "done"]
    assert events[0]["finish_reason"] == "cancelled"
    assert request.completion_tokens == 0
    assert scheduler.stats.prefill_chunks < len(long)  # it stopped computing the prompt
    assert events[1]["prompt_tokens"] == 0  # and charges nothing for it


SYSTEM = "You are a helpful assistant. Answer briefly and politely, in plain words.\n"


def test_prompts_sharing_a_prefix_compute_it_once_and_answer_as_alone(tiny):
    scheduler = Scheduler()
    prompt_ids = [tiny.tokenizer(SYSTEM + p)["input_ids"] for p in PROMPTS[1:4]]
    shared = len(tiny.tokenizer(SYSTEM)["input_ids"])
    assert shared >= 16

    together = [
        scheduler.submit(model=tiny, prompt_ids=ids, max_tokens=12, temperature=0)
        for ids in prompt_ids
    ]
    for request in together:
        wait(request)
    reused = scheduler.stats.prefix_tokens_reused
    later = scheduler.submit(model=tiny, prompt_ids=prompt_ids[0], max_tokens=12, temperature=0)
    wait(later)

    # The first of them may be admitted alone (nothing to compare with yet); the others reuse.
    assert reused >= 2 * (shared - 2)
    assert scheduler.stats.prefix_tokens_reused > reused, "the stored prefix served a later request"
    for request, ids in zip(together, prompt_ids, strict=True):
        assert request.choices[0].token_ids == reference(tiny, ids, 12)
    assert later.choices[0].token_ids == reference(tiny, prompt_ids[0], 12)


def test_with_prefix_sharing_off_every_prompt_is_computed_whole_with_the_same_answers(tiny):
    scheduler = Scheduler(share_prefixes=False)
    prompt_ids = [tiny.tokenizer(SYSTEM + p)["input_ids"] for p in PROMPTS[1:4]]
    requests = [
        scheduler.submit(model=tiny, prompt_ids=ids, max_tokens=12, temperature=0)
        for ids in prompt_ids
    ]
    for request in requests:
        wait(request)
    assert scheduler.stats.prefix_tokens_reused == 0
    for request, ids in zip(requests, prompt_ids, strict=True):
        assert request.choices[0].token_ids == reference(tiny, ids, 12)


def test_a_prompt_that_differs_from_the_stored_prefix_is_computed_whole(tiny):
    scheduler = Scheduler()
    first = tiny.tokenizer(SYSTEM + "Hello")["input_ids"]
    second = tiny.tokenizer(SYSTEM + "The quick brown fox")["input_ids"]
    other = tiny.tokenizer("Numbers: 0 1 2 3 4 5 6 7 8 9 10 100 1000. " + PROMPTS[2])["input_ids"]

    answers = []
    for ids in (first, second, other):
        request = scheduler.submit(model=tiny, prompt_ids=ids, max_tokens=10, temperature=0)
        wait(request)
        answers.append(request.choices[0].token_ids)

    assert answers == [reference(tiny, ids, 10) for ids in (first, second, other)]


def test_a_stored_prefix_shortens_to_what_new_prompts_share(tiny):
    scheduler = Scheduler()
    ask = SYSTEM + "User asks: "
    prompts = [
        tiny.tokenizer(ask + "Hello world! How are you today?")["input_ids"],
        tiny.tokenizer(ask + "Hello world! I am fine, thank you.")["input_ids"],
        tiny.tokenizer(ask + "The quick brown fox")["input_ids"],
        tiny.tokenizer(ask + "Once upon a time")["input_ids"],
    ]

    answers, reused = [], []
    for ids in prompts:
        request = scheduler.submit(model=tiny, prompt_ids=ids, max_tokens=8, temperature=0)
        wait(request)
        answers.append(request.choices[0].token_ids)
        reused.append(scheduler.stats.prefix_tokens_reused)

    assert answers == [reference(tiny, ids, 8) for ids in prompts]
    assert reused[1] > 0 and reused[2] > reused[1] and reused[3] > reused[2]


def penalised_reference(loaded, prompt_ids, steps, *, presence, frequency) -> list[int]:
    """Greedy decoding with OpenAI's penalties, one whole forward pass per token."""
    model = plain_model(loaded.path)
    generated: list[int] = []
    for _ in range(steps):
        with torch.no_grad():
            logits = model(torch.tensor([prompt_ids + generated])).logits[0, -1].float()
        for token in set(generated):
            logits[token] -= presence + frequency * generated.count(token)
        generated.append(int(logits.argmax()))
    return generated


STEERED_TOKENS = 40


def test_steering_changes_only_its_own_request_exactly_as_defined(tiny):
    scheduler = Scheduler()
    ids = tiny.tokenizer(PROMPTS[1])["input_ids"]
    forced = tiny.tokenizer(" lighthouse")["input_ids"][-1]
    penalties = {"presence_penalty": 0.7, "frequency_penalty": 1.3}
    plain = scheduler.submit(model=tiny, prompt_ids=ids, max_tokens=STEERED_TOKENS, temperature=0)
    biased = scheduler.submit(
        model=tiny,
        prompt_ids=ids,
        max_tokens=STEERED_TOKENS,
        temperature=0,
        steering=Steering(logit_bias={forced: 100.0}),
    )
    penalised = scheduler.submit(
        model=tiny,
        prompt_ids=ids,
        max_tokens=STEERED_TOKENS,
        temperature=0,
        steering=Steering(**penalties),
    )
    for request in (plain, biased, penalised):
        wait(request)

    assert plain.choices[0].token_ids == reference(tiny, ids, STEERED_TOKENS)
    assert biased.choices[0].token_ids == [forced] * STEERED_TOKENS
    assert penalised.choices[0].token_ids == penalised_reference(
        tiny, ids, STEERED_TOKENS, presence=0.7, frequency=1.3
    )
    # Long enough for the plain answer to repeat itself, so the penalties change something.
    assert len(set(plain.choices[0].token_ids)) < STEERED_TOKENS
    assert penalised.choices[0].token_ids != plain.choices[0].token_ids


def test_a_bias_on_a_token_outside_the_vocabulary_is_refused(tiny):
    vocab = tiny.model.config.get_text_config().vocab_size
    with pytest.raises(ValueError, match="logit_bias"):
        Scheduler().submit(
            model=tiny, prompt_ids=[1, 2], max_tokens=2, steering=Steering(logit_bias={vocab: 1.0})
        )


def test_logprobs_are_the_models_own_for_each_token_whatever_shares_the_batch(tiny):
    scheduler = Scheduler()
    ids = tiny.tokenizer(PROMPTS[2])["input_ids"]
    other = scheduler.submit(model=tiny, prompt_ids=ids[:3], max_tokens=5, temperature=1)
    asked = scheduler.submit(model=tiny, prompt_ids=ids, max_tokens=5, temperature=0, logprobs=2)
    other_events = wait(other)
    entries = [
        entry for e in wait(asked) if e["type"] == "delta" for entry in e.get("logprobs", [])
    ]

    generated = asked.choices[0].token_ids
    assert len(entries) == len(generated) == 5
    for step, (text, logprob, top) in enumerate(entries):
        with torch.no_grad():
            logits = plain_model(tiny.path)(torch.tensor([ids + generated[:step]])).logits[0, -1]
        expected = torch.log_softmax(logits.float(), dim=-1)
        assert text == tiny.tokenizer.decode([generated[step]])
        assert logprob == pytest.approx(float(expected[generated[step]]), abs=1e-3)
        values, best = expected.topk(2)
        assert [t for t, _ in top] == [tiny.tokenizer.decode([int(i)]) for i in best]
        assert [lp for _, lp in top] == pytest.approx(values.tolist(), abs=1e-3)
    assert other_events and not any("logprobs" in e for e in other_events)  # not asked
