"""The store under uvicorn (the production ASGI server) in a subprocess, on the test database.

Streaming answers are real Server-Sent Events only under ASGI: Django's threaded WSGI live
server would buffer an async stream whole. Tests using it must see committed data, so they
are marked ``django_db(transaction=True)``.
"""

import os
import subprocess
import sys
import time

import httpx
import pytest
from django.conf import settings

from config.ports import free_port
from tests.services import ROOT, database_url_for, stop_process

# Routed to a queue no test worker consumes: the "no worker" path end to end.
UNSERVED_MODEL = "gpu-only/tiny-unserved"
UNSERVED_QUEUE = "inference.gpu"
METRICS_TOKEN = "metrics-token-for-tests"


def start_asgi_server(
    *, log_path, extra_env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_ENV": "test",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url_for(settings.DATABASES["default"]["NAME"]),
        "REDIS_URL": settings.REDIS_URL,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "VAR_DIR": str(settings.VAR_DIR),
        "INFERENCE_QUEUE_ROUTES": f"{UNSERVED_MODEL}={UNSERVED_QUEUE}",
        "INFERENCE_REQUEST_TIMEOUT": "180",
        # The burst tests send 200 calls of one account at once to try the ledger; the cap on
        # answers in progress is tried on its own (tests/inference/test_in_flight_cap.py).
        "INFERENCE_MAX_CONCURRENT_PER_USER": "0",
        "METRICS_TOKEN": METRICS_TOKEN,
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # the server must run as in production
    command = [
        sys.executable, "-m", "uvicorn", "config.asgi:application",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    log = open(log_path, "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"uvicorn exited early:\n{log_path.read_text()[-4000:]}")
        try:
            httpx.get(f"{base}/healthz", timeout=1)
            return process, base
        except httpx.HTTPError:
            time.sleep(0.2)
    stop_process(process)
    raise RuntimeError(f"uvicorn did not start:\n{log_path.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def asgi_server(django_db_setup, django_db_blocker, tmp_path_factory):
    """Base URL of the store served by uvicorn for this session."""
    process, base = start_asgi_server(log_path=tmp_path_factory.mktemp("asgi") / "uvicorn.log")
    yield base
    stop_process(process)
