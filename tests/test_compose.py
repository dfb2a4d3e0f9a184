"""The production stack (docker-compose.yml) parses and gives every Celery queue a worker.
(Docker cannot run here; `docker-compose -f docker-compose.yml config -q` is the check to
run where it can.)"""

from pathlib import Path

import yaml
from django.conf import settings

COMPOSE = Path(__file__).resolve().parent.parent / "docker-compose.yml"


def test_every_celery_queue_has_a_worker_in_the_production_stack():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    consumed = set()
    for service in services.values():
        command = service.get("command") or []
        if isinstance(command, list) and "worker" in command and "-Q" in command:
            consumed.update(command[command.index("-Q") + 1].split(","))

    assert set(settings.CELERY_TASK_QUEUES_NAMES) <= consumed
    assert "training" in consumed


def test_the_web_and_its_databases_have_health_checks():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    for name in ("web", "postgres", "redis"):
        assert services[name]["healthcheck"]["test"], name
