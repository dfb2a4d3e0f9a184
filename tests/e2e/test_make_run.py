"""`make run` as a user meets it: the launcher's own stack on its embedded PostgreSQL.

One store is started for the module (about a minute: a new cluster, migrations, the demo
catalog); the tests then run against it in order and the last one stops it with Ctrl-C.
"""

import asyncio
import fcntl
import subprocess
import sys

import openai
import pytest
from openai import AsyncOpenAI

from tests.launched_store import ROOT, LaunchedStore

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CUSTOMER = "customer@example.com"
MODEL = "gptstore-labs/pocket-parrot"
CALLS = 64
MAX_TOKENS = 8
MESSAGES = [{"role": "user", "content": "Say hello to the sea."}]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    launched = LaunchedStore(tmp_path_factory.mktemp("make-run") / "var").start()
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
    response = store.healthz()
    assert response.status_code == 200
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


def test_ctrl_c_stops_every_part_and_the_next_run_reuses_the_data(store):
    assert store.stop() == 0
    assert store.postgres_pid() is None
    with open(store.var_dir / "run.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # nobody holds it any more

    again = LaunchedStore(store.var_dir).start()
    try:
        assert "Database: embedded PostgreSQL 18, existing data in" in again.log()
        assert again.query("SELECT COUNT(*) FROM inference_usagerecord")[0][0] > 0
    finally:
        assert again.stop() == 0
