"""/healthz: is each part of the store reachable? 200 when all are, 503 naming what is not.

Anyone sees up/down per part; the error text (hosts, ports, driver messages) goes to the log
and to staff only, since it tells an attacker what the store runs on and where.
"""

import logging

from django.db import connection
from django.http import JsonResponse

from config.redis_clients import redis_dedicated_client
from config.worker_heartbeat import live_workers

log = logging.getLogger(__name__)


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means "down"
        return f"{type(exc).__name__}: {exc}"
    return None


def _check_redis() -> str | None:
    try:
        client = redis_dedicated_client(socket_connect_timeout=1, socket_timeout=1)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}"
    return None


def _check_worker() -> str | None:
    try:
        workers = live_workers()
    except Exception as exc:  # noqa: BLE001
        return f"cannot read worker heartbeats: {type(exc).__name__}"
    if not workers:
        return "no Celery worker has sent a heartbeat in the last few seconds"
    return None


def healthz(request):
    checks = {"database": _check_database(), "redis": _check_redis()}
    checks["worker"] = _check_worker() if checks["redis"] is None else "redis is down"
    body = {
        "status": "ok" if all(v is None for v in checks.values()) else "unavailable",
        "checks": {name: ("ok" if err is None else "down") for name, err in checks.items()},
        "errors": {name: err for name, err in checks.items() if err is not None},
    }
    if body["errors"]:
        body["down"] = sorted(body["errors"])
        log.warning("Health check: %s", body["errors"])
    status = 503 if body["errors"] else 200
    if not (request.user.is_authenticated and request.user.is_staff):
        del body["errors"]
    return JsonResponse(body, status=status)
