"""A worker that dies mid-request: the reader notices within seconds instead of waiting
for the request timeout, so the client gets a 503 and the quota hold is released."""

import json
import os
import signal
import threading
import time
import uuid

import httpx
import pytest
from django.conf import settings

from config.celery import app
from config.worker_heartbeat import HEARTBEAT_PREFIX, queue_has_worker
from inference import streams
from inference.protocol import GENERATE_TASK, GenerationJob
from inference.streams import StreamTimeout, WorkerLost, events_append, events_read
from tests.support.models import build_model_folder
from tests.support.processes import start_celery_worker

MODEL_DIR = "test-models/reliability-gpt2"


def wait_until(predicate, *, timeout: float, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(every)


@pytest.fixture
def quick_watch(monkeypatch):
    monkeypatch.setattr(streams, "WORKER_LOST_AFTER_SECONDS", 0.5)
    monkeypatch.setattr(streams, "WORKER_CHECK_EVERY_SECONDS", 0.2)


def test_a_silent_stream_whose_queue_has_no_worker_ends_with_worker_lost(redis_client, quick_watch):
    request_id = uuid.uuid4().hex
    events_append(redis_client, request_id, [{"type": "start"}])
    started = time.monotonic()
    with pytest.raises(WorkerLost):
        list(events_read(redis_client, request_id, timeout=30, queue="inference.nobody"))
    assert time.monotonic() - started < 5


def test_a_busy_but_living_worker_is_waited_for(redis_client, quick_watch):
    request_id = uuid.uuid4().hex
    redis_client.set(
        f"{HEARTBEAT_PREFIX}busy@test",
        json.dumps({"hostname": "busy@test", "queues": ["inference.busy"], "pid": 1}),
        ex=30,
    )
    with pytest.raises(StreamTimeout) as caught:
        list(events_read(redis_client, request_id, timeout=2, queue="inference.busy"))
    assert not isinstance(caught.value, WorkerLost)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_killing_the_worker_mid_generation_is_noticed_within_seconds(redis_client, tmp_path):
    path = settings.MEDIA_ROOT / MODEL_DIR
    if not (path / "config.json").exists():
        build_model_folder(path, kind="gpt2", seed=5, context=4096)
    worker = start_celery_worker(
        database_name=settings.DATABASES["default"]["NAME"],
        queues=["inference.doomed"],
        log_path=tmp_path / "worker.log",
        concurrency=2,
    )
    try:
        job = GenerationJob(
            request_id=uuid.uuid4().hex,
            model_dir=MODEL_DIR,
            prompt_ids=[5, 6, 7, 8],
            max_tokens=4000,
            temperature=1.0,
            enqueued_at=time.time(),
        )
        app.send_task(GENERATE_TASK, kwargs=job.as_kwargs(), queue="inference.doomed")
        reader = events_read(redis_client, job.request_id, timeout=120, queue="inference.doomed")
        seen = [next(reader)]  # "start": the engine has admitted the request
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        killed_at = time.monotonic()
        with pytest.raises(WorkerLost):
            seen.extend(reader)
        assert seen[0] == {"type": "start"}
        # Heartbeats live 6 s; the reader waits 10 s of silence before it looks.
        assert time.monotonic() - killed_at < 25
    finally:
        if worker.poll() is None:
            worker.kill()


def _streams_with_deltas(client) -> bool:
    streams = client.scan_iter("gptstore:gen:*", _type="STREAM")
    return any(client.xlen(key) > 1 for key in streams)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_customer_whose_worker_dies_gets_503_and_pays_nothing(
    redis_client, tmp_path, user, api_key_for, tiny_model_dirs
):
    from billing.models import QuotaHold
    from inference.models import UsageRecord
    from inference.protocol import cancel_key
    from tests.support.factories import PublisherFactory
    from tests.support.processes import start_asgi_server, stop_process
    from tests.support.servable import available_tokens, grant_rental, servable_listing

    listing = servable_listing(tiny_model_dirs[True], publisher=PublisherFactory(slug="doomed"))
    grant_rental(user, listing, tokens=5000)
    _, secret = api_key_for(user)
    worker = start_celery_worker(
        database_name=settings.DATABASES["default"]["NAME"],
        queues=["inference.doomed-api"],
        log_path=tmp_path / "worker.log",
    )
    server, base = start_asgi_server(
        log_path=tmp_path / "uvicorn.log",
        extra_env={"INFERENCE_QUEUE_ROUTES": f"{listing.model_id}=inference.doomed-api"},
    )
    answers: list[httpx.Response] = []
    try:
        wait_until(lambda: queue_has_worker("inference.doomed-api"), timeout=60)
        # Greedy: this tiny model's answer to it runs to max_tokens (no early end token).
        body = {
            "model": listing.model_id,
            "messages": [{"role": "user", "content": "Say hello"}],
            "max_tokens": 900,
            "temperature": 0,
        }
        call = threading.Thread(
            target=lambda: answers.append(
                httpx.post(
                    f"{base}/v1/chat/completions",
                    json=body,
                    headers={"Authorization": f"Bearer {secret}"},
                    timeout=120,
                )
            )
        )
        call.start()
        # Kill the worker once it is producing tokens (start + at least one delta).
        wait_until(lambda: _streams_with_deltas(redis_client), timeout=60, every=0.005)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        call.join(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
        stop_process(server)
    answer = answers[0]
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "worker_lost"
    # Settled when the 503 was sent, not by a later sweep: nothing charged, the hold released.
    assert QuotaHold.objects.get().status == "released"
    assert available_tokens(user, listing) == 5000
    record = UsageRecord.objects.get()
    assert (record.status, record.charged_tokens) == ("error", 0)
    assert redis_client.exists(cancel_key(record.request_id))  # a redelivery computes nothing


def _heartbeat(redis_client, hostname: str, queue: str, pid: int) -> None:
    payload = {"hostname": hostname, "queues": [queue], "pid": pid}
    redis_client.set(f"{HEARTBEAT_PREFIX}{hostname}", json.dumps(payload), ex=30)


@pytest.mark.parametrize(
    ("beating_pid", "lost"),
    [
        # The claimant (pid 111) died; the supervisor started a new worker with the same node
        # name (pid 222) on the same queue, which knows nothing of this answer.
        (222, True),
        # The claimant itself still beats: a long answer is waited for.
        (111, False),
    ],
)
def test_a_claimed_request_follows_its_claimant_not_whoever_serves_the_queue(
    redis_client, quick_watch, beating_pid, lost
):
    request_id = uuid.uuid4().hex
    _heartbeat(redis_client, "store-worker@test", "inference.same", beating_pid)
    events_append(
        redis_client, request_id, [{"type": "claimed", "worker": "store-worker@test:111"}]
    )
    started = time.monotonic()
    with pytest.raises(StreamTimeout) as caught:
        list(events_read(redis_client, request_id, timeout=3, queue="inference.same"))
    assert isinstance(caught.value, WorkerLost) is lost
    if lost:
        assert time.monotonic() - started < 3
