"""Starting and stopping the real processes the suite talks to: Celery workers, localstripe,
and the store under uvicorn (the production ASGI server).

Streaming answers are real Server-Sent Events only under ASGI: Django's threaded WSGI live
server would buffer an async stream whole. Tests using uvicorn must see committed data, so
they are marked ``django_db(transaction=True)``.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlparse

import httpx
import pytest
import redis as redis_lib
from django.conf import settings

from config.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
# Routed to a queue no test worker consumes: the "no worker" path end to end.
UNSERVED_MODEL = "gpu-only/tiny-unserved"
UNSERVED_QUEUE = "inference.gpu"
METRICS_TOKEN = "metrics-token-for-tests"


def require_service(name: str, url: str) -> None:
    """Stops the session with a clear message when a required service is unreachable (a
    missing REDIS_URL already got the embedded server: see config/settings_test.py)."""
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=2
        ):
            return
    except OSError as exc:
        pytest.exit(
            f"{name} at {url} is unreachable ({exc}); start it or set its URL.", returncode=3
        )


def database_url_for(database_name: str) -> str:
    """The URL of ``database_name`` on the suite's PostgreSQL server (a Unix socket folder for
    the embedded one), for the processes the suite starts."""
    db = settings.DATABASES["default"]
    user = quote(db.get("USER") or "postgres", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    host = quote(db.get("HOST") or "127.0.0.1", safe="")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{database_name}"


def _wait_for_worker(process, queues, log_path: Path, timeout: float = 60) -> None:
    from config.worker_heartbeat import live_workers

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Celery worker exited early:\n{log_path.read_text()[-4000:]}")
        for worker in live_workers():
            if worker.get("pid") == process.pid and set(queues) <= set(worker.get("queues", [])):
                return
        time.sleep(0.2)
    stop_process(process)
    raise RuntimeError(
        f"Celery worker did not come up in {timeout}s:\n{log_path.read_text()[-4000:]}"
    )


def start_celery_worker(
    *,
    database_name: str,
    queues: list[str],
    log_path: Path,
    pool: str = "threads",
    concurrency: int = 4,
    extra_env: dict[str, str] | None = None,
) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_ENV": "test",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url_for(database_name),
        "REDIS_URL": settings.REDIS_URL,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "VAR_DIR": str(settings.VAR_DIR),
        "STRIPE_API_BASE": os.environ.get("STRIPE_API_BASE", settings.STRIPE_API_BASE),
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    command = [
        sys.executable, "-m", "celery", "-A", "config", "worker",
        "-Q", ",".join(queues), "-P", pool, "-c", str(concurrency),
        "--without-gossip", "--without-mingle", "-l", "INFO",
        "-n", f"test-{os.getpid()}-{free_port()}@%h",
    ]  # fmt: skip
    log = open(log_path, "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    process.log_path = log_path  # type: ignore[attr-defined]
    _wait_for_worker(process, queues, log_path)
    return process


def start_localstripe(*, port: int, log_path: Path) -> subprocess.Popen:
    executable = Path(sys.executable).parent / "localstripe"
    log = open(log_path, "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [str(executable), "--port", str(port), "--from-scratch"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"localstripe exited early:\n{log_path.read_text()[-4000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.2)
    stop_process(process)
    raise RuntimeError("localstripe did not start in 30s")


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


def stop_process(process: subprocess.Popen, timeout: float = 15) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def redis_for_tests() -> redis_lib.Redis:
    return redis_lib.Redis.from_url(settings.REDIS_URL)
