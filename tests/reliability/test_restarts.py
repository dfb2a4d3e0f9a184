"""Redis and PostgreSQL restarted under load, with the store's own processes left running.

Tried: a private Redis (each test's own, so that the session's stays up), then a private
embedded PostgreSQL cluster, stopped while lanes of SDK calls (streamed and not, one after
another in each lane) run against uvicorn and a real Celery worker, and started again on the
same port / data directory OUTAGE_SECONDS later; then restarted once more with no call in
flight, and called again. Redis is stopped with SIGTERM: it writes its
snapshot and comes back with its data, as in a restart (a deploy, a maintenance window);
production runs it with AOF, which keeps the data through a crash as well. PostgreSQL gets a
fast shutdown (SIGINT, what `pg_ctl restart -m fast` sends): SIGTERM would wait for every
pooled connection to close, which never happens, and a killed postmaster leaves its backends
behind.

What must hold, as a customer notices it: every call ends in time (no hang, no dropped
connection) with a complete 200 or a 503 in OpenAI's error shape with a code, a message
saying to try again and a `Retry-After` header; a stream already answering when the server
went ends with such an error event (its 200 was sent). Once the server is back, calls are
answered without restarting uvicorn or the worker (only the worker's heartbeat, kept in
Redis, may take one beat to come back). Then no hold is left held, each answer
has one usage record charging exactly the tokens it reports, failed calls are charged
nothing (they were told so), the pack is down by exactly what the records charged and
agrees with its ledger (`manage.py billing_audit`).
"""

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import openai
import psycopg
import pytest
import redis
from django.conf import settings
from django.core.management import call_command

from config.embedded_postgres import Cluster
from config.embedded_redis import redis_server_command
from config.ports import free_port, wait_port
from config.worker_heartbeat import HEARTBEAT_INTERVAL
from tests.support.factories import PublisherFactory
from tests.support.processes import (
    ROOT,
    database_url_for,
    start_asgi_server,
    start_celery_worker,
    stop_process,
)
from tests.support.servable import grant_rental, servable_listing

QUEUE = "inference.restarts"
LANES = 8
MAX_TOKENS = 12
PACK_TOKENS = 1_000_000  # never the reason for a refusal here
# Longer than the wait for a database connection in the PostgreSQL test (2 s), so that calls
# made meanwhile both wait the outage out and meet it (a 503).
OUTAGE_SECONDS = 4.5
CALL_TIMEOUT = 40.0  # a call that takes longer is a hang
SETTLED_WITHIN = 30.0  # settlements that met the outage land once the server is back
MESSAGES = [{"role": "user", "content": "Say hello"}]
# The 503s of a part of the store down: inference/api/errors.store_unavailable, the broker
# (inference/services), no live worker yet (inference/pools/placement).
UNAVAILABLE_CODES = {"service_unavailable", "broker_unavailable", "no_worker_available"}


# --- private servers -------------------------------------------------------------------


class PrivateRedis:
    """A Redis server of one test's own on a fixed port and data folder, so that it can be
    stopped and started again where the store's processes expect it."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        data_dir.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = redis_server_command(self.port, self.data_dir, persist=True)
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        wait_port(self.port, "The private Redis server", self.process)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # writes its snapshot on the way out
            self.process.wait(timeout=30)


class PrivatePostgres:
    """An embedded PostgreSQL cluster of one test's own, in a short folder under /tmp (its
    socket path must fit the kernel's 107 bytes)."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="pg-", dir="/tmp"))
        self.cluster = Cluster(self.root / "data", throwaway=True)
        self.process: subprocess.Popen | None = None
        self.cluster.prepare()

    @property
    def url(self) -> str:
        return self.cluster.url()

    def start(self) -> None:
        with open(self.root / "postgres.log", "ab") as log:
            self.process = self.cluster.start(
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def stop(self) -> None:
        self.cluster.stop()  # fast shutdown: sessions rolled back, pooled connections cut
        if self.process is not None:
            self.process.wait(timeout=30)


@pytest.fixture
def private_redis(tmp_path, settings):
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    settings.REDIS_URL = server.url  # where this process looks for the worker's heartbeat
    yield server
    server.stop()


@pytest.fixture
def private_postgres():
    server = PrivatePostgres()
    server.start()
    server.cluster.ensure_database()
    yield server
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)


def _store_env(*, redis_url: str, database_url: str, model_id: str = "") -> dict[str, str]:
    """What points the web server, the worker and manage.py at the private servers."""
    env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "CELERY_BROKER_URL": redis_url}
    if model_id:
        env["INFERENCE_QUEUE_ROUTES"] = f"{model_id}={QUEUE}"
    return env


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    environment = {
        **os.environ,
        "DJANGO_ENV": "test",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "VAR_DIR": str(settings.VAR_DIR),
        **env,
    }
    environment.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@contextmanager
def _store(env: dict[str, str], tmp_path: Path, *, meanwhile=lambda: None):
    """uvicorn and a Celery worker on the private servers, started together while
    ``meanwhile`` runs (neither reads a table before a request comes); yields the web
    server's URL and what ``meanwhile`` returned, and checks on the way out that neither
    process had to be restarted."""
    with ThreadPoolExecutor(3) as starting:
        worker = starting.submit(
            start_celery_worker,
            database_name="named-by-DATABASE_URL",
            queues=[QUEUE],
            log_path=tmp_path / "worker.log",
            extra_env=env,
        )
        web = starting.submit(start_asgi_server, log_path=tmp_path / "uvicorn.log", extra_env=env)
        prepared = starting.submit(meanwhile)
    running = [f.result() for f in [worker] if f.exception() is None]
    running += [f.result()[0] for f in [web] if f.exception() is None]
    try:
        (server, base), worker = web.result(), worker.result()
        yield base, prepared.result()
        assert server.poll() is None, "uvicorn exited: " + _tail(tmp_path / "uvicorn.log")
        assert worker.poll() is None, "the worker exited: " + _tail(tmp_path / "worker.log")
    finally:
        with ThreadPoolExecutor(2) as stopping:
            list(stopping.map(stop_process, running))


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:]


# --- the load --------------------------------------------------------------------------


@dataclass
class Outcome:
    """One call as the customer saw it."""

    streamed: bool
    started: float
    ended: float
    # "answered"; "refused" (an HTTP error); "broken" (an error event after the 200);
    # "incomplete" (a 200 without its ending); "hung"; "unreachable"
    kind: str
    status: int = 200
    code: str = ""
    message: str = ""
    error_type: str = ""
    retry_after: str | None = None
    request_id: str = ""
    total_tokens: int = 0


async def _call(client: openai.AsyncOpenAI, model: str, *, streamed: bool) -> Outcome:
    started = time.monotonic()

    def outcome(kind: str, **fields) -> Outcome:
        return Outcome(streamed, started, time.monotonic(), kind, **fields)

    ask = {"model": model, "messages": MESSAGES, "max_tokens": MAX_TOKENS, "temperature": 0}
    request_id, usage, reason = "", None, None
    try:
        if streamed:
            stream = await client.chat.completions.create(
                **ask, stream=True, stream_options={"include_usage": True}
            )
            async for chunk in stream:
                request_id = chunk.id.split("-", 1)[1]
                usage = chunk.usage or usage
                for choice in chunk.choices:
                    reason = choice.finish_reason or reason
        else:
            answer = await client.chat.completions.create(**ask)
            request_id = answer.id.split("-", 1)[1]
            usage, reason = answer.usage, answer.choices[0].finish_reason
    except openai.APITimeoutError as exc:
        return outcome("hung", status=0, message=str(exc), request_id=request_id)
    except openai.APIConnectionError as exc:
        return outcome("unreachable", status=0, message=str(exc), request_id=request_id)
    except openai.APIError as exc:
        error = exc.body if isinstance(exc.body, dict) else {}
        fields = {
            "code": exc.code or "",
            "message": error.get("message", ""),
            "error_type": error.get("type", ""),
        }
        if isinstance(exc, openai.APIStatusError):
            retry_after = exc.response.headers.get("retry-after")
            return outcome("refused", status=exc.status_code, retry_after=retry_after, **fields)
        return outcome("broken", request_id=request_id, **fields)
    if usage is None or reason not in ("stop", "length"):
        return outcome("incomplete", request_id=request_id)
    return outcome("answered", request_id=request_id, total_tokens=usage.total_tokens)


@dataclass
class Restart:
    down_at: float
    up_at: float


async def _until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def _burst_through_a_restart(
    base: str, secret: str, model: str, *, stop_server, start_server
) -> tuple[list[Outcome], Restart, list[Outcome]]:
    """LANES lanes of calls; the server is stopped once they have been answered LANES times,
    started again OUTAGE_SECONDS later, and the lanes stop once they have been answered LANES
    times after that (or after a minute). Then four calls more (two streamed)."""
    client = openai.AsyncOpenAI(
        base_url=f"{base}/v1", api_key=secret, max_retries=0, timeout=CALL_TIMEOUT
    )
    outcomes: list[Outcome] = []
    stop = asyncio.Event()

    async def lane(index: int) -> None:
        while not stop.is_set():
            streamed = (index + len(outcomes)) % 2 == 1
            outcomes.append(await _call(client, model, streamed=streamed))

    def answered_since(moment: float) -> int:
        return sum(o.kind == "answered" and o.started > moment for o in outcomes)

    async with client:
        lanes = [asyncio.create_task(lane(index)) for index in range(LANES)]
        try:
            await _until(lambda: answered_since(0) >= LANES, 30)
            down_at = time.monotonic()
            await asyncio.to_thread(stop_server)
            await asyncio.sleep(OUTAGE_SECONDS)
            await asyncio.to_thread(start_server)
            restart = Restart(down_at, time.monotonic())
            await _until(lambda: answered_since(restart.up_at) >= LANES, 60)
        finally:
            stop.set()
            await asyncio.gather(*lanes)
        after = await asyncio.gather(*[_call(client, model, streamed=i % 2 == 1) for i in range(4)])
    return outcomes, restart, list(after)


async def _calls_after_a_quiet_restart(
    base: str, secret: str, model: str, *, stop_server, start_server
) -> list[Outcome]:
    """The server restarted again with no call in flight (what pools and clients keep then is
    what the restart cut), then four calls one after the other, two of them streamed."""
    await asyncio.to_thread(stop_server)
    await asyncio.to_thread(start_server)
    client = openai.AsyncOpenAI(
        base_url=f"{base}/v1", api_key=secret, max_retries=0, timeout=CALL_TIMEOUT
    )
    async with client:
        return [await _call(client, model, streamed=i % 2 == 1) for i in range(4)]


def _warm_up(base: str, secret: str, model: str) -> Outcome:
    """One answer first, so that the burst does not start with the model's load."""
    client = openai.OpenAI(base_url=f"{base}/v1", api_key=secret, max_retries=0, timeout=60)
    started = time.monotonic()
    answer = client.chat.completions.create(model=model, messages=MESSAGES, max_tokens=2)
    request_id, tokens = answer.id.split("-", 1)[1], answer.usage.total_tokens
    return Outcome(False, started, time.monotonic(), "answered", request_id=request_id,
                   total_tokens=tokens)  # fmt: skip


# --- what must hold --------------------------------------------------------------------


@dataclass
class Ledger:
    held: list[str]  # request ids of holds still held
    records: dict[str, tuple[str, int]]  # request id -> (status, charged tokens)
    available: int
    tokens: int


def _ledger(database_url: str, *, user_id: int) -> Ledger:
    with psycopg.connect(database_url) as connection:
        held = connection.execute(
            "SELECT request_id FROM billing_quotahold WHERE user_id = %s AND status = 'held'",
            [user_id],
        ).fetchall()
        records = connection.execute(
            "SELECT request_id, status, charged_tokens FROM inference_usagerecord "
            "WHERE user_id = %s",
            [user_id],
        ).fetchall()
        available, tokens = connection.execute(
            "SELECT available, tokens FROM billing_quotapack WHERE user_id = %s", [user_id]
        ).fetchone()
    return Ledger([r[0] for r in held], {r[0]: (r[1], r[2]) for r in records}, available, tokens)


def _settled(database_url: str, *, user_id: int) -> Ledger:
    """The ledger once no hold is held (settlements that met the outage may still be landing,
    so this waits while the store's processes run)."""
    deadline = time.monotonic() + SETTLED_WITHIN
    while (ledger := _ledger(database_url, user_id=user_id)).held:
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    return ledger


def _summary(outcomes: list[Outcome]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for o in outcomes:
        label = " ".join(str(part) for part in (o.kind, o.status, o.code) if part)
        counts[label] = counts.get(label, 0) + 1
    return counts


def assert_the_customer_saw_answers_or_clear_503s(
    outcomes: list[Outcome], restart: Restart, others: list[Outcome]
) -> None:
    """``outcomes``: the burst's; ``others``: the calls before and after it, and after the
    quiet restart."""
    summary = _summary(outcomes)
    for o in outcomes:
        assert o.kind in ("answered", "refused", "broken"), (o, summary)
        assert o.ended - o.started < CALL_TIMEOUT, (o, summary)
        if o.kind == "refused":
            assert o.status == 503 and o.retry_after and int(o.retry_after) > 0, (o, summary)
        if o.kind == "broken":
            # A stream answering when the server went: its 200 was sent, so the failure can
            # only be an error event in the stream, in OpenAI's shape too.
            assert o.streamed and o.started < restart.up_at, (o, summary)
        if o.kind != "answered":
            assert o.error_type == "server_error" and o.code in UNAVAILABLE_CODES, (o, summary)
            assert "Try again" in o.message, (o, summary)
    assert any(restart.down_at < o.started < restart.up_at for o in outcomes), summary
    assert any(o.kind == "refused" for o in outcomes), summary  # the outage was met
    # Once the server is back, the store answers: only the worker's heartbeat (kept in Redis,
    # lapsed during the outage) may take one beat to be written again.
    for o in outcomes:
        if o.started > restart.up_at and o.kind != "answered":
            assert o.code == "no_worker_available", (o, summary)
            assert o.started < restart.up_at + HEARTBEAT_INTERVAL + 1, (o, summary)
    assert [o.kind for o in others] == ["answered"] * len(others), others


def assert_each_answer_was_charged_once(outcomes: list[Outcome], ledger: Ledger) -> None:
    by_request = {o.request_id: o for o in outcomes if o.request_id}
    assert ledger.held == [], [(rid, by_request.get(rid)) for rid in ledger.held]
    # Request ids are unique in the database: nothing is recorded twice.
    for o in outcomes:
        if o.kind == "answered":
            assert ledger.records.get(o.request_id) == ("ok", o.total_tokens), o
    charged_for_nothing = {
        rid: (record, by_request.get(rid))
        for rid, record in ledger.records.items()
        if record[1] and getattr(by_request.get(rid), "kind", "") != "answered"
    }
    assert charged_for_nothing == {}  # failed calls were told nothing was charged
    charged = sum(charged for _, charged in ledger.records.values())
    answered = sum(o.total_tokens for o in outcomes if o.kind == "answered")
    assert ledger.available == ledger.tokens - charged == ledger.tokens - answered


# --- the tests -------------------------------------------------------------------------


def test_the_embedded_redis_keeps_its_data_across_a_restart(tmp_path):
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    try:
        redis.Redis.from_url(server.url).set("kept", "yes")
        server.stop()
        server.start()
        assert redis.Redis.from_url(server.url).get("kept") == b"yes"
    finally:
        server.stop()


def _restarted_under_load(base: str, secret: str, model: str, server) -> tuple:
    """The burst through a restart of ``server``, then a restart with no load."""
    first = _warm_up(base, secret, model)
    restarts = {"stop_server": server.stop, "start_server": server.start}
    outcomes, restart, after = asyncio.run(
        _burst_through_a_restart(base, secret, model, **restarts)
    )
    quiet = asyncio.run(_calls_after_a_quiet_restart(base, secret, model, **restarts))
    return outcomes, restart, [first, *after, *quiet]


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_redis_restarted_under_load_answers_or_503s_and_charges_each_answer_once(
    private_redis, tmp_path, user, api_key_for, tiny_model_dirs
):
    from billing.selectors import quota_ledger_mismatches

    listing = servable_listing(tiny_model_dirs[True], publisher=PublisherFactory())
    grant_rental(user, listing, tokens=PACK_TOKENS)
    _, secret = api_key_for(user)
    database_url = database_url_for(settings.DATABASES["default"]["NAME"])
    env = _store_env(
        redis_url=private_redis.url, database_url=database_url, model_id=listing.model_id
    )

    with _store(env, tmp_path) as (base, _):
        outcomes, restart, others = _restarted_under_load(
            base, secret, listing.model_id, private_redis
        )
        ledger = _settled(database_url, user_id=user.pk)

    assert_the_customer_saw_answers_or_clear_503s(outcomes, restart, others)
    assert_each_answer_was_charged_once(outcomes + others, ledger)
    assert quota_ledger_mismatches() == []
    call_command("billing_audit")  # raises on a pack that disagrees with its ledger


# Run by `manage.py shell` on the private database: the test's data through the store's
# own services (and the suite's factories), under a model id chosen beforehand.
SETUP = """
import json
from pathlib import Path

from billing.services import grant_create
from tests.support.factories import ApiKeyFactory, PublisherFactory, UserFactory
from tests.support.servable import servable_listing

publisher = PublisherFactory(slug={publisher!r})
listing = servable_listing(Path({model!r}), publisher=publisher, slug="tiny-chat")
customer = UserFactory()
grant_create(user=customer, listing=listing, actor=None, tokens={tokens}, days=1)
_, secret = ApiKeyFactory.issue(user=customer)
print(json.dumps({{"model": listing.model_id, "secret": secret, "user_id": customer.pk}}))
"""


@pytest.mark.e2e
def test_postgres_restarted_under_load_answers_or_503s_and_charges_each_answer_once(
    private_postgres, private_redis, tmp_path, tiny_model_dirs
):
    publisher = f"restarts-{uuid.uuid4().hex[:8]}"
    env = _store_env(
        redis_url=private_redis.url,
        database_url=private_postgres.url,
        model_id=f"{publisher}/tiny-chat",
    )
    # A call waits this long for a database connection before its 503: shorter than the
    # outage, so that calls meet both (waiting it out, and the 503).
    env["DATABASE_POOL_TIMEOUT"] = "2"

    def migrate_and_create() -> dict:
        migrated = _manage("migrate", "-v", "0", env=env)  # about 7 s on 2 cores
        assert migrated.returncode == 0, migrated.stderr
        script = SETUP.format(
            publisher=publisher, model=str(tiny_model_dirs[True]), tokens=PACK_TOKENS
        )
        created = _manage("shell", "-c", script, env=env)
        assert created.returncode == 0, created.stderr
        return json.loads(created.stdout.strip().splitlines()[-1])

    with _store(env, tmp_path, meanwhile=migrate_and_create) as (base, data):
        outcomes, restart, others = _restarted_under_load(
            base, data["secret"], data["model"], private_postgres
        )
        ledger = _settled(private_postgres.url, user_id=data["user_id"])
        with ThreadPoolExecutor(1) as auditing:  # meanwhile the processes stop
            audit = auditing.submit(_manage, "billing_audit", env=env)

    assert_the_customer_saw_answers_or_clear_503s(outcomes, restart, others)
    assert_each_answer_was_charged_once(outcomes + others, ledger)
    assert audit.result().returncode == 0, audit.result().stderr
