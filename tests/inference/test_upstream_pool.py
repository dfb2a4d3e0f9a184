"""The upstream backend end to end: a pool relays to a second running GPT Store (`make run`'s
own stack, tests/support/launched_store.py) as its OpenAI-compatible upstream. Our customer gets the
upstream's answer and usage through our API, errors map to ours, and a client that goes away
cancels the upstream request too."""

import time
from pathlib import Path

import openai
import pytest

from inference.models import UsageRecord, WorkerPool
from tests.support.launched_store import LaunchedStore
from tests.support.processes import start_celery_worker, stop_process
from tests.support.servable import grant_purchase, servable_listing

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

UPSTREAM_MODEL = "gptstore-labs/pocket-parrot"
HELLO = [{"role": "user", "content": "Say hello to the sea."}]


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    store = LaunchedStore(tmp_path_factory.mktemp("upstream") / "var").start()
    yield store
    store.stop()


@pytest.fixture
def relayed(upstream, asgi_server, user, api_key_for, tmp_path):
    """A listing with the upstream model's own files (same tokenizer), placed on an upstream
    pool; a bad-key pool and a pool whose upstream is down; one worker serving all three."""
    (storage_path,) = upstream.query(
        "SELECT v.storage_path FROM store_listingversion v JOIN store_listing l ON l.id = v.listing_id"
        " WHERE l.slug = 'pocket-parrot' ORDER BY v.number DESC LIMIT 1"
    )[0]
    source = Path(upstream.var_dir) / "media" / storage_path
    listings = {name: servable_listing(source) for name in ("good", "bad_key", "down")}
    for listing in listings.values():
        grant_purchase(user, listing)
    # On the upstream store, the relaying customer owns the model (its demo grant is SmolLM2's).
    upstream.manage("grant", "customer@example.com", UPSTREAM_MODEL, "--purchase")
    key = upstream.api_key("customer@example.com")
    base = f"{upstream.base}/v1"
    pools = {
        "good": dict(upstream_base_url=base, upstream_api_key_env="UPSTREAM_KEY"),
        "bad_key": dict(upstream_base_url=base, upstream_api_key_env="UPSTREAM_BAD_KEY"),
        "down": dict(upstream_base_url="http://127.0.0.1:9/v1", upstream_api_key_env=""),
    }
    for name, fields in pools.items():
        pool = WorkerPool.objects.create(
            name=f"up-{name}".replace("_", "-"),
            queue=f"upstream.{name}",
            device_kind="cuda",
            backend="upstream",
            upstream_model=UPSTREAM_MODEL,
            upstream_timeout_seconds=60,
            **fields,
        )
        pool.listings.add(listings[name])
    worker = start_celery_worker(
        database_name=_db_name(),
        queues=[f"upstream.{name}" for name in pools],
        log_path=tmp_path / "upstream-worker.log",
        extra_env={"UPSTREAM_KEY": key, "UPSTREAM_BAD_KEY": "gs-wrong"},
    )
    client = openai.OpenAI(
        base_url=f"{asgi_server}/v1", api_key=api_key_for(user)[1], max_retries=0, timeout=120
    )
    direct = openai.OpenAI(base_url=base, api_key=key, max_retries=0, timeout=120)
    yield client, direct, listings
    stop_process(worker)


def test_a_pool_relays_answers_and_usage_from_its_upstream_and_maps_its_errors(upstream, relayed):
    client, direct, listings = relayed
    good = listings["good"]
    ours = client.chat.completions.create(
        model=good.model_id, messages=HELLO, max_tokens=12, temperature=0
    )
    theirs = direct.chat.completions.create(
        model=UPSTREAM_MODEL, messages=HELLO, max_tokens=12, temperature=0
    )
    assert ours.choices[0].message.content == theirs.choices[0].message.content
    assert ours.usage.prompt_tokens == theirs.usage.prompt_tokens
    assert ours.usage.completion_tokens == theirs.usage.completion_tokens
    chunks = list(
        client.chat.completions.create(
            model=good.model_id,
            messages=HELLO,
            max_tokens=12,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == theirs.choices[0].message.content
    assert chunks[-1].usage.completion_tokens == theirs.usage.completion_tokens
    record = UsageRecord.objects.filter(listing=good).order_by("created_at").first()
    assert (record.prompt_tokens, record.completion_tokens, record.status) == (
        theirs.usage.prompt_tokens,
        theirs.usage.completion_tokens,
        "ok",
    )

    with pytest.raises(openai.APIStatusError) as refused:
        client.chat.completions.create(model=listings["bad_key"].model_id, messages=HELLO)
    assert (refused.value.status_code, refused.value.code) == (502, "upstream_auth_failed")
    with pytest.raises(openai.APIStatusError) as down:
        client.chat.completions.create(model=listings["down"].model_id, messages=HELLO)
    assert (down.value.status_code, down.value.code) == (503, "upstream_unavailable")


def test_a_client_that_goes_away_cancels_the_upstream_request(upstream, relayed):
    client, _, listings = relayed
    before = upstream.query("SELECT count(*) FROM inference_usagerecord")[0][0]
    stream = client.chat.completions.create(
        model=listings["good"].model_id,
        messages=HELLO,
        max_tokens=230,
        stream=True,
        # Never the end-of-text token: the answer can only end by its length or a cancel.
        logit_bias={str(token): -100 for token in range(5)},
    )
    for index, _ in enumerate(stream):
        if index == 3:
            break
    stream.close()
    deadline = time.monotonic() + 60
    rows = []
    while time.monotonic() < deadline and not rows:
        rows = (
            upstream.query(
                "SELECT status, completion_tokens FROM inference_usagerecord ORDER BY id DESC LIMIT 1"
                " OFFSET 0"
            )
            if upstream.query("SELECT count(*) FROM inference_usagerecord")[0][0] > before
            else []
        )
        time.sleep(0.5)
    assert rows, "the upstream settled the relayed request"
    status, tokens = rows[0]
    assert status == "cancelled"
    assert tokens < 230


def _db_name() -> str:
    from django.conf import settings

    return settings.DATABASES["default"]["NAME"]
