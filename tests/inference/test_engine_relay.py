"""Running jobs through the engine and its relay: events in order, deltas coalesced, one
send per round for every request in flight, cancel and time limit."""

import threading
import uuid

import pytest

from inference.engine.model_cache import ModelCache
from inference.engine.relay import Relay, coalesce
from inference.engine.runtime import Engine, relay_job
from inference.engine.scheduler import Scheduler
from inference.protocol import GenerationJob
from tests.support.models import build_model_folder


class Streams:
    """Stands in for Redis: what the relay sent, per request and per round."""

    def __init__(self):
        self.events: dict[str, list[dict]] = {}
        self.rounds: list[dict[str, list[dict]]] = []
        self.cancelled: set[str] = set()
        self.checks: list[list[str]] = []
        self.lock = threading.Lock()

    def send(self, events: dict[str, list[dict]], check: list[str]) -> set[str]:
        with self.lock:
            if events:
                self.rounds.append(events)
            for request_id, batch in events.items():
                self.events.setdefault(request_id, []).extend(batch)
            self.checks.append(list(check))
            return self.cancelled & set(check)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    build_model_folder(root / "tiny", kind="llama", seed=4)
    return ModelCache(root=root, budget_bytes=2**30)


@pytest.fixture
def streams():
    return Streams()


@pytest.fixture
def engine(models, streams):
    return Engine(
        cache=models, scheduler=Scheduler(), relay=Relay(send=streams.send), torch_threads=1
    )


def job(**fields) -> GenerationJob:
    values = {
        "request_id": uuid.uuid4().hex,
        "model_dir": "tiny",
        "prompt_ids": [5, 6, 7],
        "max_tokens": 8,
    }
    return GenerationJob(**{**values, **fields})


def run(engine, streams, the_job, *, timeout=60.0, cancelled=False):
    last = relay_job(the_job, engine=engine, timeout_seconds=timeout, cancelled=cancelled)
    return last, streams.events.get(the_job.request_id, [])


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


def test_a_job_streams_its_events_and_releases_the_model(engine, streams):
    last, events = run(engine, streams, job(temperature=0.0))

    assert events[0] == {"type": "start"}
    assert last == events[-1]
    assert last["type"] == "done"
    assert last["completion_tokens"] == sum(e["tokens"] for e in events if e["type"] == "delta")
    loaded = engine.cache.acquire("tiny")
    assert loaded.pins == 1  # ours only: the job released its pin
    engine.cache.release(loaded)


def test_a_cancel_seen_while_running_ends_with_cancelled(engine, streams):
    the_job = job(max_tokens=200, temperature=1.0, seed=3)
    streams.cancelled.add(the_job.request_id)  # the client left; the relay's first poll sees it

    last, events = run(engine, streams, the_job)

    finish = next(e for e in events if e["type"] == "finish")
    assert finish["finish_reason"] == "cancelled"
    assert last["type"] == "done"
    assert last["completion_tokens"] < 200


def test_a_job_cancelled_while_queued_computes_nothing(engine, streams):
    last, events = run(engine, streams, job(max_tokens=200), cancelled=True)

    assert [e["type"] for e in events] == ["start", "finish", "done"]
    assert events[1]["finish_reason"] == "cancelled"
    assert (last["prompt_tokens"], last["completion_tokens"]) == (0, 0)  # nothing to charge


def test_requests_in_flight_together_share_each_round_trip(engine, streams):
    jobs = [job(max_tokens=24, temperature=0.0, prompt_ids=[5, 6, 7 + i]) for i in range(6)]
    lasts = [None] * len(jobs)

    def one(index):
        lasts[index] = run(engine, streams, jobs[index])[0]

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert all(last["type"] == "done" for last in lasts)
    for the_job in jobs:  # each stream holds its own answer, complete and in order
        events = streams.events[the_job.request_id]
        assert events[0] == {"type": "start"} and events[-1]["type"] == "done"
        deltas = sum(e["tokens"] for e in events if e["type"] == "delta")
        assert deltas == events[-1]["completion_tokens"] == 24
    # 6 requests × 24 tokens decoded together: far fewer sends than one per token per request.
    assert len(streams.rounds) < 24 * 6 / 3
    assert max(len(batch) for batch in streams.rounds) >= 2


def test_a_send_that_keeps_failing_cancels_the_requests_it_carried(models):
    failures = []

    def send(events, check):
        if events:
            failures.append(list(events))
            raise ConnectionError("Redis is down")
        return set()

    relay = Relay(send=send, give_up_seconds=0.3)
    engine = Engine(cache=models, scheduler=Scheduler(), relay=relay, torch_threads=1)
    the_job = job(max_tokens=500, temperature=1.0, seed=5)

    last = relay_job(the_job, engine=engine, timeout_seconds=60)

    assert last["type"] == "done"  # the job ends instead of generating for nobody
    assert last["completion_tokens"] < 500
    assert all(batch == [the_job.request_id] for batch in failures)


def test_events_a_redis_blink_held_back_are_all_written_in_order_afterwards(models, streams):
    calls = {"failed": 0}

    def blinking(events, check):
        if events and calls["failed"] < 5:  # Redis restarting: five writes fail
            calls["failed"] += 1
            raise ConnectionError("Redis is restarting")
        return streams.send(events, check)

    engine = Engine(
        cache=models, scheduler=Scheduler(), relay=Relay(send=blinking), torch_threads=1
    )
    the_job = job(max_tokens=24, temperature=1.0, seed=7)

    last = relay_job(the_job, engine=engine, timeout_seconds=60)

    events = streams.events[the_job.request_id]
    assert calls["failed"] == 5
    assert last["type"] == "done" and events[-1] == last  # the ending was written, not lost
    assert [e["type"] for e in events][0] == "start"
    deltas = [e for e in events if e["type"] == "delta"]
    # Nothing lost nor repeated: the deltas carry every token the answer counted.
    assert sum(e["tokens"] for e in deltas) == last["completion_tokens"]
    finish = next(e for e in events if e["type"] == "finish")
    assert finish["finish_reason"] in ("length", "stop")  # not cancelled by the blink


def test_the_time_limit_ends_the_job_with_a_timeout_error(engine, streams):
    last, events = run(engine, streams, job(max_tokens=200, temperature=1.0, seed=3), timeout=0.0)

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
def test_a_job_that_cannot_run_ends_with_one_error_event(engine, streams, fields, code):
    last, events = run(engine, streams, job(**fields))

    assert events == [last]
    assert (last["type"], last["code"]) == ("error", code)
