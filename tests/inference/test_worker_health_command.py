"""`manage.py worker_health`, the health check of the worker and beat containers
(docker-compose.yml), run as Docker runs it: a process whose exit code is the verdict."""

import json
import os
import subprocess
import sys

from django.conf import settings

from config.ports import free_port
from config.worker_heartbeat import HEARTBEAT_PREFIX, HEARTBEAT_TTL
from tests.support.processes import ROOT, database_url_for


def worker_health(*arguments: str, redis_url: str | None = None) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DJANGO_ENV": "test",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url_for(settings.DATABASES["default"]["NAME"]),
        "REDIS_URL": redis_url or settings.REDIS_URL,
        "VAR_DIR": str(settings.VAR_DIR),
    }
    env.pop("CELERY_BROKER_URL", None)
    return subprocess.run(
        [sys.executable, "manage.py", "worker_health", *arguments],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_passes_while_a_worker_on_this_host_is_alive(celery_worker):
    result = worker_health()
    assert result.returncode == 0, result.stderr
    assert "alive" in result.stdout


def test_it_passes_for_a_queue_that_worker_serves(celery_worker):
    result = worker_health("--queue", settings.INFERENCE_DEFAULT_QUEUE)
    assert result.returncode == 0, result.stderr


def test_it_fails_for_a_queue_nobody_serves(celery_worker):
    result = worker_health("--queue", "nobody.serves.this")
    assert result.returncode == 1
    assert "nobody.serves.this" in result.stderr


def test_a_worker_on_another_host_does_not_make_this_one_healthy(celery_worker, redis_client):
    # Another machine's worker, as its heartbeat thread would write it.
    key = f"{HEARTBEAT_PREFIX}gpu@another-machine"
    beat = {"hostname": "gpu@another-machine", "queues": ["only.there"], "pid": 1, "models": []}
    redis_client.set(key, json.dumps(beat), ex=HEARTBEAT_TTL)
    try:
        result = worker_health("--queue", "only.there")
    finally:
        redis_client.delete(key)
    assert result.returncode == 1


def test_the_beat_check_passes_while_the_broker_answers():
    result = worker_health("--broker")
    assert result.returncode == 0, result.stderr


def test_the_beat_check_fails_when_the_broker_is_gone():
    nothing_listens = f"redis://127.0.0.1:{free_port()}/0"
    result = worker_health("--broker", redis_url=nothing_listens)
    assert result.returncode == 1
    assert "broker" in result.stderr
