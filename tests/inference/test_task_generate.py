"""The Celery task inference.generate, end to end: a real worker process, a tiny model
on disk, the protocol payload sent through the broker, the events read from Redis."""

import time
import uuid

import pytest
from django.conf import settings

from config.celery import app
from inference.protocol import GENERATE_TASK, GenerationJob, cancel_key, stream_key
from inference.streams import events_append, events_read
from tests.support.models import build_model_folder

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MODEL_DIR = "test-models/task-gpt2"


@pytest.fixture(scope="module")
def tiny_model():
    path = settings.MEDIA_ROOT / MODEL_DIR
    if not (path / "config.json").exists():
        build_model_folder(path, kind="gpt2", seed=3)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(str(path)), AutoTokenizer.from_pretrained(str(path))


def send(**fields) -> GenerationJob:
    job = GenerationJob(
        request_id=uuid.uuid4().hex, model_dir=MODEL_DIR, enqueued_at=time.time(), **fields
    )
    app.send_task(GENERATE_TASK, kwargs=job.as_kwargs(), queue=settings.INFERENCE_DEFAULT_QUEUE)
    return job


def answer(events: list[dict], index: int = 0) -> str:
    return "".join(e["text"] for e in events if e["type"] == "delta" and e["index"] == index)


def test_it_streams_start_deltas_finish_and_done_with_usage(
    celery_worker, redis_client, tiny_model
):
    model, tokenizer = tiny_model
    prompt = tokenizer("Hello world! How are")["input_ids"]
    job = send(prompt_ids=prompt, max_tokens=12, temperature=0.0)

    events = list(events_read(redis_client, job.request_id, timeout=60))

    assert events[0] == {"type": "start"}
    assert [e["type"] for e in events[-2:]] == ["finish", "done"]
    finish, done = events[-2], events[-1]
    assert finish["finish_reason"] in {"stop", "length"}
    assert done["prompt_tokens"] == len(prompt)
    assert done["completion_tokens"] == finish["completion_tokens"]
    assert sum(e["tokens"] for e in events if e["type"] == "delta") == done["completion_tokens"]
    expected = model.generate(
        tokenizer("Hello world! How are", return_tensors="pt")["input_ids"],
        max_new_tokens=12,
        do_sample=False,
    )[0, len(prompt) :]
    assert answer(events) == tokenizer.decode(expected, skip_special_tokens=True)
    assert 0 < redis_client.ttl(stream_key(job.request_id)) <= 3600


def test_concurrent_tasks_get_the_answers_they_would_get_alone(
    celery_worker, redis_client, tiny_model
):
    _, tokenizer = tiny_model
    prompts = [
        "The quick brown fox",
        "Once upon a time there was",
        "def add(a, b):",
        "Numbers: 0 1 2",
    ]
    alone = []
    for text in prompts:
        job = send(prompt_ids=tokenizer(text)["input_ids"], max_tokens=16, temperature=0.0)
        alone.append(answer(list(events_read(redis_client, job.request_id, timeout=60))))

    jobs = [
        send(prompt_ids=tokenizer(t)["input_ids"], max_tokens=16, temperature=0.0) for t in prompts
    ]
    together = [answer(list(events_read(redis_client, j.request_id, timeout=60))) for j in jobs]

    assert together == alone


def test_n_choices_each_finish_and_usage_sums_them(celery_worker, redis_client, tiny_model):
    _, tokenizer = tiny_model
    job = send(
        prompt_ids=tokenizer("Hello")["input_ids"], max_tokens=5, temperature=1.0, n=3, seed=7
    )

    events = list(events_read(redis_client, job.request_id, timeout=60))

    finishes = [e for e in events if e["type"] == "finish"]
    assert sorted(e["index"] for e in finishes) == [0, 1, 2]
    assert events[-1]["type"] == "done"
    assert events[-1]["completion_tokens"] == sum(e["completion_tokens"] for e in finishes)


def test_a_cancel_request_stops_the_generation(celery_worker, redis_client, tiny_model):
    _, tokenizer = tiny_model
    # The tiny model's context is 256: a long budget that cannot finish before the cancel.
    job = send(
        prompt_ids=tokenizer("Once upon a time")["input_ids"],
        max_tokens=240,
        temperature=1.0,
        seed=1,
    )

    events = []
    for event in events_read(redis_client, job.request_id, timeout=60):
        events.append(event)
        if event["type"] == "delta" and not redis_client.exists(cancel_key(job.request_id)):
            redis_client.set(cancel_key(job.request_id), "1", ex=60)

    finish = next(e for e in events if e["type"] == "finish")
    assert finish["finish_reason"] == "cancelled"
    assert finish["completion_tokens"] < 240
    assert events[-1]["type"] == "done"


def test_an_unknown_model_ends_with_an_error_event(celery_worker, redis_client):
    job = GenerationJob(
        request_id=uuid.uuid4().hex,
        model_dir="test-models/missing",
        prompt_ids=[1, 2],
        max_tokens=4,
    )
    app.send_task(GENERATE_TASK, kwargs=job.as_kwargs(), queue=settings.INFERENCE_DEFAULT_QUEUE)

    events = list(events_read(redis_client, job.request_id, timeout=60))

    assert events == [
        {
            "type": "error",
            "code": "model_unavailable",
            "message": events[0]["message"],
            "completion_tokens": 0,
        }
    ]


def test_a_prompt_longer_than_the_context_ends_with_an_error_event(
    celery_worker, redis_client, tiny_model
):
    job = send(prompt_ids=[5] * 300, max_tokens=4)

    events = list(events_read(redis_client, job.request_id, timeout=60))

    assert [(e["type"], e.get("code")) for e in events] == [("error", "context_length_exceeded")]


def test_a_job_cancelled_while_queued_ends_without_generating(
    celery_worker, redis_client, tiny_model
):
    _, tokenizer = tiny_model
    request_id = uuid.uuid4().hex
    redis_client.set(cancel_key(request_id), "1", ex=60)
    job = GenerationJob(
        request_id=request_id,
        model_dir=MODEL_DIR,
        prompt_ids=tokenizer("Hello")["input_ids"],
        max_tokens=50,
        n=2,
    )
    app.send_task(GENERATE_TASK, kwargs=job.as_kwargs(), queue=settings.INFERENCE_DEFAULT_QUEUE)

    events = list(events_read(redis_client, request_id, timeout=60))

    assert [e["type"] for e in events] == ["start", "finish", "finish", "done"]
    assert {e["finish_reason"] for e in events[1:3]} == {"cancelled"}
    assert (events[-1]["prompt_tokens"], events[-1]["completion_tokens"]) == (0, 0)


def test_a_redelivered_job_ends_a_half_streamed_answer_with_an_error(
    celery_worker, redis_client, tiny_model
):
    request_id = uuid.uuid4().hex
    # What a worker that died mid-answer left behind.
    events_append(
        redis_client,
        request_id,
        [{"type": "start"}, {"type": "delta", "index": 0, "text": "Hel", "tokens": 3}],
    )
    job = GenerationJob(
        request_id=request_id, model_dir=MODEL_DIR, prompt_ids=[5, 6], max_tokens=20
    )
    app.send_task(GENERATE_TASK, kwargs=job.as_kwargs(), queue=settings.INFERENCE_DEFAULT_QUEUE)

    events = list(events_read(redis_client, request_id, timeout=60))

    assert [e["type"] for e in events] == ["start", "delta", "error"]
    assert (events[-1]["code"], events[-1]["completion_tokens"]) == ("worker_lost", 3)


def test_a_job_delivered_twice_after_its_answer_adds_nothing(
    celery_worker, redis_client, tiny_model
):
    _, tokenizer = tiny_model
    job = send(prompt_ids=tokenizer("Hello")["input_ids"], max_tokens=4, temperature=0.0)
    first = list(events_read(redis_client, job.request_id, timeout=60))
    written = redis_client.xlen(stream_key(job.request_id))  # with the worker's "claimed"
    assert written == len(first) + 1

    app.send_task(GENERATE_TASK, kwargs=job.as_kwargs(), queue=settings.INFERENCE_DEFAULT_QUEUE)
    # A marker job on the same single queue: once it is answered, the duplicate was handled.
    marker = send(prompt_ids=tokenizer("Hi")["input_ids"], max_tokens=1, temperature=0.0)
    list(events_read(redis_client, marker.request_id, timeout=60))

    assert redis_client.xlen(stream_key(job.request_id)) == written
