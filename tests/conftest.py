"""Fixtures shared by the whole suite: real services, users, a real worker, a real browser."""

import os

import httpx
import pytest
import redis as redis_lib
from django.conf import settings

from config.ports import free_port
from tests.support.factories import ApiKeyFactory, PublisherFactory, UserFactory
from tests.support.models import build_model_folder
from tests.support.processes import (
    require_service,
    start_asgi_server,
    start_celery_worker,
    start_localstripe,
    stop_process,
)
from tests.support.servable import SERVABLE_CONTEXT


def pytest_collection_modifyitems(config, items):
    # Browser and worker journeys are slowest; run them last so fast failures show first.
    order = {"browser": 2, "e2e": 1}
    items.sort(key=lambda item: max((order.get(m.name, 0) for m in item.iter_markers()), default=0))


def pytest_sessionstart(session):
    # Prometheus files of an earlier run would add to this run's counters.
    import shutil
    from pathlib import Path

    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)


@pytest.fixture(scope="session", autouse=True)
def _services_reachable():
    require_service("Redis", settings.REDIS_URL)


def _forget_test_state(client: redis_lib.Redis) -> None:
    """Deletes what tests leave in Redis (streams, counters, cache) but keeps what a
    running worker needs: Celery's queue bindings and the workers' heartbeats."""
    keep = ("_kombu.", "unacked", "gptstore:worker-heartbeat:")
    doomed = [key for key in client.scan_iter(count=500) if not key.decode().startswith(keep)]
    for start in range(0, len(doomed), 500):
        client.delete(*doomed[start : start + 500])


@pytest.fixture
def redis_client():
    client = redis_lib.Redis.from_url(settings.REDIS_URL)
    yield client
    client.close()


@pytest.fixture(autouse=True)
def _clean_redis():
    # Rate-limit counters, streams and the cache must not leak from one test into the next.
    try:
        _forget_test_state(redis_lib.Redis.from_url(settings.REDIS_URL))
    except redis_lib.RedisError:
        pass
    yield


@pytest.fixture
def password():
    return "correct-horse-battery-staple"


@pytest.fixture
def user(password):
    return UserFactory(password=password)


@pytest.fixture
def other_user(password):
    return UserFactory(password=password)


@pytest.fixture
def staff_user(password):
    return UserFactory(password=password, is_staff=True, is_superuser=True)


@pytest.fixture
def publisher(password):
    """An approved, verified publisher profile (its user is ``publisher.user``)."""
    return PublisherFactory(user__password=password)


@pytest.fixture
def api_key_for():
    """Issues a real key for a user; returns (ApiKey, secret)."""

    def issue(user, **limits):
        return ApiKeyFactory.issue(user=user, **limits)

    return issue


# --- real processes --------------------------------------------------------------------


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real Celery worker process on the test database and Redis.

    Tests that use it must see committed data: mark them ``transactional_db``.
    """
    log_dir = tmp_path_factory.mktemp("worker")
    process = start_celery_worker(
        database_name=settings.DATABASES["default"]["NAME"],
        queues=["default", settings.INFERENCE_DEFAULT_QUEUE, settings.TRAINING_QUEUE],
        log_path=log_dir / "worker.log",
    )
    yield process
    stop_process(process)


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory):
    """A localstripe server on a free port; Stripe settings point at it for the session."""
    port = free_port()
    process = start_localstripe(
        port=port, log_path=tmp_path_factory.mktemp("stripe") / "localstripe.log"
    )
    base = f"http://127.0.0.1:{port}"
    previous = (settings.STRIPE_API_BASE, settings.STRIPE_JS_URL)
    settings.STRIPE_API_BASE = base
    settings.STRIPE_JS_URL = f"{base}/js.stripe.com/v3/"
    os.environ["STRIPE_API_BASE"] = base
    yield base
    settings.STRIPE_API_BASE, settings.STRIPE_JS_URL = previous
    stop_process(process)


def _point_localstripe_webhook(base: str, url: str) -> None:
    httpx.post(
        f"{base}/_config/webhooks/gptstore",
        data={"url": url, "secret": settings.STRIPE_WEBHOOK_SECRET},
        headers={"Authorization": f"Bearer {settings.STRIPE_SECRET_KEY}"},
        timeout=10,
    ).raise_for_status()


@pytest.fixture
def localstripe_webhook(localstripe, live_server):
    """localstripe posts its signed events to the live server for this test only."""
    _point_localstripe_webhook(localstripe, live_server.url + "/billing/webhook/stripe/")
    yield live_server
    # Later tests must not receive stray events: send them nowhere (localstripe only logs it).
    _point_localstripe_webhook(localstripe, "http://127.0.0.1:9/")


@pytest.fixture(scope="session")
def asgi_server(django_db_setup, django_db_blocker, tmp_path_factory):
    """Base URL of the store served by uvicorn on the test database for this session (tests
    using it must see committed data: mark them ``django_db(transaction=True)``)."""
    process, base = start_asgi_server(log_path=tmp_path_factory.mktemp("asgi") / "uvicorn.log")
    yield base
    stop_process(process)


# --- tiny models -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def tiny_model_dirs(tmp_path_factory) -> dict:
    """Two servable 2-layer GPT-2 folders, with the chat template (``True``) and without
    (``False``); servable_listing() copies one under MEDIA_ROOT for each listing.

    Initialized as transformers does by default, their logits are nearly flat and their
    tied embeddings make them repeat the prompt's last token: greedy answers are plain text
    (">>>>" after a chat prompt), which the API tests read and block as such."""
    root = tmp_path_factory.mktemp("tiny-models")
    return {
        chat: build_model_folder(
            root / ("chat" if chat else "plain"),
            chat_template=chat,
            context=SERVABLE_CONTEXT,
            initializer_range=0.02,
        )
        for chat in (True, False)
    }


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (its own browser download cannot work here)."""
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if not os.path.exists(executable):
        pytest.fail(f"Chromium not found at {executable}; `make test` installs the Debian package.")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        _report_csp_violations(instance)
        yield instance
        instance.close()


CSP_VIOLATIONS: list[str] = []


def _report_csp_violations(instance) -> None:
    """Every page of every context reports what the Content Security Policy refused (a
    script, a style, a frame, a connection): a journey that meets one fails."""
    new_context = instance.new_context

    def watched(*args, **kwargs):
        context = new_context(*args, **kwargs)

        def on_console(message):
            if message.type == "error" and "Content Security Policy" in message.text:
                CSP_VIOLATIONS.append(f"{message.location.get('url', '')}: {message.text}")

        context.on("page", lambda tab: tab.on("console", on_console))
        return context

    instance.new_context = watched


@pytest.fixture(autouse=True)
def _no_csp_violation():
    CSP_VIOLATIONS.clear()
    yield
    assert not CSP_VIOLATIONS, "The Content Security Policy refused:\n" + "\n".join(CSP_VIOLATIONS)


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()
