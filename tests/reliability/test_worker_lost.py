"""A worker that dies mid-request: the reader notices within seconds instead of waiting
for the request timeout, so the client gets a 503 and the quota hold is released."""

import json
import os
import signal
import time
import uuid

import pytest
from django.conf import settings

from config.celery import app
from config.worker_heartbeat import HEARTBEAT_PREFIX
from inference import streams
from inference.protocol import GENERATE_TASK, GenerationJob
from inference.streams import StreamTimeout, WorkerLost, events_append, events_read
from tests.inference.model_builders import build_model
from tests.services import start_celery_worker

MODEL_DIR = "test-models/reliability-gpt2"


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
        build_model(path, kind="gpt2", seed=5, context=4096)
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
