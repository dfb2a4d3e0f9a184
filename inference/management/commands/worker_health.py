"""The health check of a worker (or beat) container: exit 0 when healthy, 1 when not.

A worker is healthy while its heartbeat (config/worker_heartbeat.py) is fresh in Redis: the
key expires within seconds of the worker's process dying or shutting down.
"This host" is the container: a worker's heartbeat names it by its Celery node name
("cpu@%h", %h being the host name), so another machine's live worker never makes this
one look healthy.
"""

import socket

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from config.redis_clients import redis_dedicated_client
from config.worker_heartbeat import live_workers_on


class Command(BaseCommand):
    help = "Exits 0 when a Celery worker on this host has a live heartbeat (or Redis answers)."

    def add_arguments(self, parser):
        parser.add_argument("--queue", help="The live worker must also consume this queue.")
        parser.add_argument(
            "--broker",
            action="store_true",
            help="Only check that the broker's Redis answers PING (for beat, which has no heartbeat).",
        )

    def handle(self, *args, queue, broker, **options):
        if broker:
            return self._check_broker()

        host = socket.gethostname()
        try:
            mine = live_workers_on(host, queue=queue)
        except Exception as exc:  # noqa: BLE001 - any failure to read heartbeats means unhealthy
            raise CommandError(f"cannot read worker heartbeats: {exc}", returncode=1) from exc
        if not mine:
            serving = f" serving {queue!r}" if queue else ""
            raise CommandError(f"no live worker on {host}{serving}", returncode=1)
        self.stdout.write(", ".join(sorted(w["hostname"] for w in mine)) + " alive")

    def _check_broker(self):
        # Beat talks to the broker only; its own short timeouts answer before Docker's.
        client = redis_dedicated_client(
            settings.CELERY_BROKER_URL, socket_connect_timeout=3, socket_timeout=3
        )
        try:
            client.ping()
        except Exception as exc:  # noqa: BLE001
            raise CommandError(f"the broker does not answer: {exc}", returncode=1) from exc
        finally:
            client.close()
        self.stdout.write("broker answers")
