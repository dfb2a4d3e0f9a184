"""Running one job through the engine: events in order, deltas coalesced, cancel and time limit."""

import uuid

import pytest

from inference.engine.model_cache import ModelCache
from inference.engine.relay import coalesce, relay_job
from inference.engine.runtime import Engine
from inference.engine.scheduler import Scheduler
from inference.protocol import GenerationJob
from tests.inference.model_builders import build_model


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    build_model(root / "tiny", kind="llama", seed=4)
    return Engine(
        cache=ModelCache(root=root, budget_bytes=2**30), scheduler=Scheduler(), torch_threads=1
    )


def job(**fields) -> GenerationJob:
    values = {
        "request_id": uuid.uuid4().hex,
        "model_dir": "tiny",
        "prompt_ids": [5, 6, 7],
        "max_tokens": 8,
    }
    return GenerationJob(**{**values, **fields})


def run(engine, the_job, *, cancel=lambda: False, timeout=60.0):
    batches = []
    last = relay_job(
        the_job,
        engine=engine,
        sink=batches.append,
        cancel_requested=cancel,
        timeout_seconds=timeout,
    )
    return last, [event for batch in batches for event in batch]


def test_deltas_of_a_choice_that_arrive_together_are_merged_in_place():
    events = [
        {"type": "start"},
        {"type": "delta", "index": 0, "text": "Hel", "tokens": 1},
        {"type": "delta", "index": 1, "text": "A", "tokens": 1},
        {"type": "delta", "index": 0, "text": "lo", "tokens": 2},
        {"type": "finish", "index": 0, "finish_reason": "length", "completion_tokens": 3},
        {"type": "delta", "index": 1, "text": "B", "tokens": 1},
    ]

    assert coalesce(events) == [
        {"type": "start"},
        {"type": "delta", "index": 0, "text": "Hello", "tokens": 3},
        {"type": "delta", "index": 1, "text": "AB", "tokens": 2},
        {"type": "finish", "index": 0, "finish_reason": "length", "completion_tokens": 3},
    ]


def test_a_job_streams_its_events_and_releases_the_model(engine):
    last, events = run(engine, job(temperature=0.0))

    assert events[0] == {"type": "start"}
    assert last == events[-1]
    assert last["type"] == "done"
    assert last["completion_tokens"] == sum(e["tokens"] for e in events if e["type"] == "delta")
    loaded = engine.cache.acquire("tiny")
    assert loaded.pins == 1  # ours only: the job released its pin
    engine.cache.release(loaded)


def test_a_cancel_seen_while_running_ends_with_cancelled(engine):
    polls = []

    def cancel():
        polls.append(1)
        return len(polls) > 1  # not before the job starts, but at the first poll while it runs

    last, events = run(engine, job(max_tokens=200, temperature=1.0, seed=3), cancel=cancel)

    finish = next(e for e in events if e["type"] == "finish")
    assert finish["finish_reason"] == "cancelled"
    assert last["type"] == "done"


def test_the_time_limit_ends_the_job_with_a_timeout_error(engine):
    last, events = run(engine, job(max_tokens=200, temperature=1.0, seed=3), timeout=0.0)

    assert last["type"] == "error"
    assert last["code"] == "timeout"
    assert events[-1] == last


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"model_dir": "nope"}, "model_unavailable"),
        ({"prompt_ids": [5] * 300}, "context_length_exceeded"),
        ({"prompt_ids": [10**9]}, "invalid_request"),
        ({"prompt_ids": []}, "invalid_request"),
    ],
)
def test_a_job_that_cannot_run_ends_with_one_error_event(engine, fields, code):
    last, events = run(engine, job(**fields))

    assert events == [last]
    assert (last["type"], last["code"]) == ("error", code)
