"""Worker pools end to end: two pools on two queues, each hosting a different tiny model, served
by real Celery worker processes (two on the first queue) behind uvicorn and the openai SDK.
A model is answered only by its pool's workers; both workers of a queue take work; a pool
whose worker is killed makes only its own model answer 503 model_not_loaded, at once."""

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from config.worker_heartbeat import live_workers
from inference.models import UsageRecord, WorkerPool
from inference.protocol import stream_key
from inference.streams import event_decode
from tests.inference.prometheus_text import samples, value
from tests.support.processes import (
    METRICS_TOKEN,
    redis_for_tests,
    start_celery_worker,
    stop_process,
)
from tests.support.servable import grant_purchase, servable_listing

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HELLO = [{"role": "user", "content": "Say hello"}]


def _claimant(request_id: str) -> str:
    for _, fields in redis_for_tests().xrange(stream_key(request_id)):
        event = event_decode(fields)
        if event["type"] == "claimed":
            return event["worker"]
    raise AssertionError(f"no worker claimed {request_id}")


def _wait_for(predicate, timeout: float = 60, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what}: not met in {timeout}s")


def scrape(base: str) -> dict:
    response = httpx.get(
        f"{base}/metrics",
        headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
        timeout=30,
    )
    assert response.status_code == 200
    return samples(response.text)


def _heartbeat(process) -> dict | None:
    return next((w for w in live_workers() if w.get("pid") == process.pid), None)


def test_two_pools_serve_their_own_models_and_a_dead_pool_stops_only_its_own(
    asgi_server, tiny_model_dirs, user, api_key_for, tmp_path
):
    chat_listing = servable_listing(tiny_model_dirs[True])
    text_listing = servable_listing(tiny_model_dirs[False], chat_template=False)
    for listing in (chat_listing, text_listing):
        grant_purchase(user, listing)
    pool_a = WorkerPool.objects.create(name="pool-a", queue="pool.a", memory_budget_mb=256)
    pool_a.listings.add(chat_listing)
    pool_b = WorkerPool.objects.create(name="pool-b", queue="pool.b", memory_budget_mb=256)
    pool_b.listings.add(text_listing)

    def start(queue: str, name: str):
        return start_celery_worker(
            database_name=_db_name(),
            queues=[queue],
            log_path=tmp_path / f"{name}.log",
            concurrency=1,
        )

    with ThreadPoolExecutor(3) as pool:
        starting = [
            pool.submit(start, "pool.a", "a1"),
            pool.submit(start, "pool.a", "a2"),
            pool.submit(start, "pool.b", "b1"),
        ]
        workers = [future.result() for future in starting]
    a1, a2, b1 = workers
    try:
        # Each worker warms its pool's models at start and says so in its heartbeat.
        for process, model in ((a1, chat_listing), (a2, chat_listing), (b1, text_listing)):
            beat = _wait_for(
                lambda p=process, m=model: (b := _heartbeat(p)) and m.model_id in b["models"] and b,
                what=f"{model.model_id} warm in {process.pid}",
            )
            assert beat["models"] == [model.model_id]

        client = openai.OpenAI(
            base_url=f"{asgi_server}/v1", api_key=api_key_for(user)[1], max_retries=0, timeout=60
        )

        def ask_chat(_=None):
            return client.chat.completions.create(
                model=chat_listing.model_id, messages=HELLO, max_tokens=24, temperature=0
            )

        def ask_text():
            return client.completions.create(
                model=text_listing.model_id, prompt="Once upon a time", max_tokens=4
            )

        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(ask_chat, range(4)))
        claimants = {_claimant(answer.id.removeprefix("chatcmpl-")) for answer in answers}
        pids = {int(worker.rsplit(":", 1)[1]) for worker in claimants}
        assert pids == {a1.pid, a2.pid}, "both workers of pool A take work, B's none of it"
        text = ask_text()
        assert text.choices[0].text is not None
        assert _claimant(text.id.removeprefix("cmpl-")).endswith(f":{b1.pid}")

        # What Prometheus scrapes meanwhile, summed over uvicorn and the three workers.
        found = scrape(asgi_server)
        chat_model = chat_listing.model_id
        ttft = value(found, "gptstore_time_to_first_token_seconds_count", model=chat_model)
        assert ttft == 4
        generated = [(k, v) for k, v in found.items() if "tokens_generated" in k[0]]
        assert value(found, "gptstore_tokens_generated_total", model=chat_model) == sum(
            answer.usage.completion_tokens for answer in answers
        ), generated
        assert value(found, "gptstore_inter_token_seconds_count", model=chat_model) > 0
        assert value(found, "gptstore_generations_total", model=chat_model, outcome="ok") == 4
        done_on_a = dict(queue="pool.a", backend="engine", result="done")
        assert value(found, "gptstore_worker_generations_total", **done_on_a) == 4
        ours = {_heartbeat(process)["hostname"] for process in workers}
        loaded = [
            dict(labels)["model"]
            for name, labels in found
            if name == "gptstore_worker_model_loaded" and dict(labels)["worker"] in ours
        ]
        assert sorted(loaded) == sorted([chat_model, chat_model, text_listing.model_id])
        assert (
            value(
                found, "gptstore_pool_live_workers", pool="pool-a", queue="pool.a", backend="engine"
            )
            == 2
        )
        assert value(found, "gptstore_queue_depth", queue="pool.a") == 0

        os.kill(b1.pid, signal.SIGKILL)  # the node of pool B dies
        b1.wait()
        _wait_for(lambda: _heartbeat(b1) is None, timeout=15, what="B's heartbeat gone")
        time.sleep(1.1)  # the web process remembers who serves a queue for a second
        # The server's metrics are those of the whole session: count this test's refusal only.
        refusals = dict(route="/v1/completions", status="503", code="model_not_loaded")
        refused_before = value(scrape(asgi_server), "gptstore_http_errors_total", **refusals) or 0

        started = time.monotonic()
        with pytest.raises(openai.InternalServerError) as refused:
            ask_text()
        assert time.monotonic() - started < 3, "refused at once, not after a wait"
        assert refused.value.status_code == 503
        assert refused.value.code == "model_not_loaded"
        assert refused.value.response.headers["Retry-After"]
        assert ask_chat().choices[0].message.content is not None  # pool A still serves
        assert (
            value(scrape(asgi_server), "gptstore_http_errors_total", **refusals)
            == refused_before + 1
        )

        ok = UsageRecord.objects.filter(status="ok")
        assert ok.filter(listing=chat_listing).count() == 5
        assert ok.filter(listing=text_listing).count() == 1
    finally:
        for process in workers:
            stop_process(process)


def _db_name() -> str:
    from django.conf import settings

    return settings.DATABASES["default"]["NAME"]
