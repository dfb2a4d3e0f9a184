"""`make run` as a user meets it: the launcher's own stack on its embedded PostgreSQL, under
load and with its parts killed one by one (the launcher supervises and restarts them).

One store is started for the module (about a minute: a new cluster, migrations, the demo
catalog); the tests then run against it in order and the last one stops it with Ctrl-C.
"""

import asyncio
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
from openai import AsyncOpenAI

from tests.support.launched_store import ROOT, LaunchedStore, alive

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CUSTOMER = "customer@example.com"
MODEL = "gptstore-labs/pocket-parrot"
CALLS = 64
MAX_TOKENS = 8
MESSAGES = [{"role": "user", "content": "Say hello to the sea."}]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    # 64 calls of one customer at once try the ledger, not the cap on answers in progress.
    launched = LaunchedStore(
        tmp_path_factory.mktemp("make-run") / "var", INFERENCE_MAX_CONCURRENT_PER_USER="0"
    ).start()
    yield launched
    launched.stop()


async def _one_call(client: AsyncOpenAI, index: int) -> tuple[int, str, int]:
    """(HTTP status, error code or finish reason, total tokens the answer reports)."""
    try:
        if index % 2:
            stream = await client.chat.completions.create(
                model=MODEL,
                messages=MESSAGES,
                max_tokens=MAX_TOKENS,
                stream=True,
                stream_options={"include_usage": True},
            )
            usage, reason = None, ""
            async for chunk in stream:
                usage = chunk.usage or usage
                for choice in chunk.choices:
                    reason = choice.finish_reason or reason
            return 200, reason, usage.total_tokens
        reply = await client.chat.completions.create(
            model=MODEL, messages=MESSAGES, max_tokens=MAX_TOKENS
        )
        return 200, reply.choices[0].finish_reason, reply.usage.total_tokens
    except openai.APIStatusError as exc:
        return exc.status_code, exc.code or "", 0


async def _burst(base: str, key: str) -> list[tuple[int, str, int]]:
    client = AsyncOpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0, timeout=300)
    async with client:
        return await asyncio.gather(*[_one_call(client, i) for i in range(CALLS)])


def test_the_store_answers_healthz_with_every_part_up(store):
    # The worker's heartbeat (every 2 s, fresh for 6 s) may lapse for a moment while it is
    # busy starting up on a loaded machine: up within half a minute is "up".
    deadline = time.monotonic() + 30
    while (response := store.healthz()).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert response.status_code == 200, response.json()
    assert response.json()["checks"] == {"database": "ok", "redis": "ok", "worker": "ok"}
    assert store.postgres_pid() is not None
    assert "Database: embedded PostgreSQL 18, new data in" in store.log()


def test_a_second_run_on_the_same_var_folder_says_so_and_exits(store):
    result = subprocess.run(
        [sys.executable, "-m", "config.launcher"],
        cwd=ROOT,
        env=store.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert f"GPT Store is already running from {store.var_dir} (pid {store.process.pid})" in (
        result.stderr
    )


def test_64_concurrent_calls_on_a_pack_for_a_fifth_get_200_or_402_and_every_answer_is_settled(
    store,
):
    # Each call holds its prompt plus MAX_TOKENS; the pack covers about a fifth of the calls.
    prompt_tokens = 30
    pack_tokens = CALLS * (prompt_tokens + MAX_TOKENS) // 5
    granted = store.manage("grant", CUSTOMER, MODEL, "--tokens", str(pack_tokens), "--days", "1")
    assert granted.returncode == 0, granted.stderr
    key = store.api_key(CUSTOMER)

    results = asyncio.run(_burst(store.base, key))

    statuses = sorted({status for status, _, _ in results})
    assert set(statuses) <= {200, 402, 429}, results
    answered = [result for result in results if result[0] == 200]
    refused = [result for result in results if result[0] == 402]
    assert answered and refused
    assert all(code == "insufficient_quota" for _, code, _ in refused)
    assert all(reason in ("stop", "length") for _, reason, _ in answered)

    # Every answer was charged exactly what it reported; nothing is left held.
    (charged, records, pack_available, pack_held, open_holds) = store.query(
        """
        SELECT
          (SELECT COALESCE(SUM(u.charged_tokens), 0) FROM inference_usagerecord u
             JOIN store_listing l ON l.id = u.listing_id WHERE l.slug = 'pocket-parrot'),
          (SELECT COUNT(*) FROM inference_usagerecord u
             JOIN store_listing l ON l.id = u.listing_id WHERE l.slug = 'pocket-parrot'),
          p.available, p.held,
          (SELECT COUNT(*) FROM billing_quotahold h WHERE h.status = 'held')
        FROM billing_quotapack p JOIN store_listing l ON l.id = p.listing_id
        WHERE l.slug = 'pocket-parrot'
        """
    )[0]
    assert records == len(answered)
    assert charged == sum(tokens for _, _, tokens in answered)
    assert (pack_available, pack_held, open_holds) == (pack_tokens - charged, 0, 0)
    audit = store.manage("billing_audit")
    assert audit.returncode == 0, audit.stderr
    assert "Every quota pack agrees with its ledger." in audit.stdout


SMOL = "gptstore-labs/smollm2-135m-instruct"


def _stream_answer(client: openai.OpenAI) -> tuple[str, str]:
    """One streamed SmolLM2 answer: ("ok", finish reason) or ("error", the error code)."""
    try:
        stream = client.chat.completions.create(
            model=SMOL,
            messages=[{"role": "user", "content": "Write a long story about the sea."}],
            max_tokens=200,
            stream=True,
        )
        reason = ""
        for chunk in stream:
            for choice in chunk.choices:
                reason = choice.finish_reason or reason
        return "ok", reason
    except openai.APIError as exc:
        return "error", getattr(exc, "code", None) or type(exc).__name__


def _until_answered(client: openai.OpenAI, *, timeout: float) -> float:
    """Seconds until a short SmolLM2 answer comes back (no errors other than 503s on the way)."""
    started = time.monotonic()
    while True:
        try:
            client.chat.completions.create(
                model=SMOL, messages=[{"role": "user", "content": "Hi"}], max_tokens=4
            )
            return time.monotonic() - started
        except openai.APIStatusError as exc:
            assert exc.status_code == 503, (exc.status_code, exc.body)
            assert exc.response.headers["Retry-After"] == "5"
        except openai.APIConnectionError:
            pass
        assert time.monotonic() - started < timeout, "no answer in time"
        time.sleep(0.5)


def test_the_demo_gpt_store_is_alive_and_the_help_desk_answers_from_its_help_file(store):
    page = httpx.get(f"{store.base}/gpts/", timeout=30)
    assert page.status_code == 200
    assert "Store help desk" in page.text and "Story spark" in page.text
    client = openai.OpenAI(base_url=f"{store.base}/v1", api_key=store.api_key(CUSTOMER),
                           max_retries=0, timeout=300)  # fmt: skip
    _until_answered(client, timeout=240)
    reply = client.chat.completions.create(
        model="gpt:gptstore-labs/store-help-desk",
        messages=[{"role": "user", "content": "How do credits work?"}],
        max_tokens=40,
    )
    assert reply.model_extra["sources"] == [{"file": "store-help.md"}]
    assert reply.choices[0].message.content.strip()
    assert float(reply.usage.model_extra["cost"]) > 0  # paid from the demo credits


def _no_open_holds_and_ledger_clean(store) -> None:
    assert store.query("SELECT COUNT(*) FROM billing_quotahold WHERE status = 'held'") == [(0,)]
    audit = store.manage("billing_audit")
    assert audit.returncode == 0, audit.stderr


def test_a_worker_killed_under_load_comes_back_and_nothing_is_charged_twice(store):
    client = openai.OpenAI(base_url=f"{store.base}/v1", api_key=store.api_key(CUSTOMER),
                           max_retries=0, timeout=120)  # fmt: skip
    _until_answered(client, timeout=60)  # SmolLM2 loaded
    records_before = store.query("SELECT COUNT(*) FROM inference_usagerecord")[0][0]
    worker = store.child_pid("celery", "worker")
    after = len(store.log())
    with ThreadPoolExecutor(4) as pool:
        answers = [pool.submit(_stream_answer, client) for _ in range(4)]
        time.sleep(1.5)  # the four are streaming
        os.kill(worker, signal.SIGKILL)
        killed_at = time.monotonic()
        pages = [httpx.get(f"{store.base}/catalog/", timeout=10).status_code for _ in range(3)]
        outcomes = [answer.result() for answer in answers]

    assert pages == [200, 200, 200]  # web pages do not need the worker
    assert ("error", "worker_lost") in outcomes, outcomes
    assert set(outcomes) <= {("error", "worker_lost"), ("ok", "length"), ("ok", "stop")}
    store.wait_for_log("worker stopped (exit -9); restarting it in 1 s", after=after)
    assert _until_answered(client, timeout=30) + (time.monotonic() - killed_at) < 60
    assert time.monotonic() - killed_at < 30 + 5
    # Every request (the four and the ones after) was settled exactly once.
    records = store.query("SELECT COUNT(*), COUNT(DISTINCT request_id) FROM inference_usagerecord")
    assert records[0][0] == records[0][1] >= records_before + 5
    _no_open_holds_and_ledger_clean(store)


@pytest.mark.parametrize("part", ["redis", "postgres"])
def test_redis_and_the_database_killed_come_back_by_themselves(store, part):
    client = openai.OpenAI(base_url=f"{store.base}/v1", api_key=store.api_key(CUSTOMER),
                           max_retries=0, timeout=60)  # fmt: skip
    pid = store.postgres_pid() if part == "postgres" else store.child_pid("redis-server")
    after = len(store.log())
    os.kill(pid, signal.SIGKILL)

    store.wait_for_log(f"{part} stopped (exit -9); restarting it in 1 s", after=after)
    store.wait_for_log(f"{part} is back", after=after, timeout=60)
    _until_answered(client, timeout=60)
    deadline = time.monotonic() + 30
    while store.healthz().status_code != 200:
        assert time.monotonic() < deadline, store.healthz().json()
        time.sleep(0.5)
    _no_open_holds_and_ledger_clean(store)


def test_a_part_that_keeps_crashing_is_given_up_and_the_rest_keeps_running(store):
    web = store.child_pid("uvicorn")
    after = len(store.log())
    with socket.socket() as squatter:
        os.kill(web, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while True:  # take the web server's port the moment it is free
            try:
                squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                squatter.bind(("127.0.0.1", store.port))
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        squatter.listen()
        store.wait_for_log("web stopped 5 times within 60 s", after=after, timeout=90)

    message = store.log()[after:].split("giving up on it. The rest keeps running.", 1)[1]
    assert message.startswith(" Its last output:")
    assert "address already in use" in message.split("[store]", 1)[0]
    assert store.process.poll() is None
    assert store.child_pid("celery", "worker") is not None
    assert store.postgres_pid() is not None
    assert store.manage("billing_audit").returncode == 0  # the database still answers


def test_ctrl_c_during_a_restart_leaves_nothing_running_and_the_next_run_reuses_the_data(store):
    # Something this test wrote, to find again after the restart (whatever ran before it).
    marked = store.manage("grant_credits", CUSTOMER, "123", "--reason", "restart-marker")
    assert marked.returncode == 0, marked.stderr
    tree = store.process_tree()
    after = len(store.log())
    os.kill(store.child_pid("celery", "worker"), signal.SIGKILL)
    store.wait_for_log("worker stopped (exit -9); restarting it in", after=after)
    time.sleep(1.5)  # the new worker is starting
    assert store.stop() == 0
    tree |= store.process_tree() if store.process.poll() is None else set()
    assert [pid for pid in tree if alive(pid)] == []
    assert store.postgres_pid() is None
    with open(store.var_dir / "run.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # nobody holds it any more

    again = LaunchedStore(store.var_dir).start()
    try:
        assert "Database: embedded PostgreSQL 18, existing data in" in again.log()
        marker = "SELECT COUNT(*) FROM billing_creditledgerentry WHERE reason = 'restart-marker'"
        assert again.query(marker)[0][0] == 1
    finally:
        assert again.stop() == 0
