"""Celery tasks of the store: thin, they take ids and call a service."""

from celery import shared_task

from store.publishing.services import version_process


# Converting a multi-GB GGUF outlasts the default 10-minute limit; past the soft limit the
# service records the version as failed and removes its partial files.
@shared_task(
    name="store.version_process",
    queue="default",
    acks_late=True,
    soft_time_limit=1800,
    time_limit=1900,
)
def version_process_task(version_id: int) -> None:
    # Idempotent: the service claims the version with a conditional UPDATE, so a redelivered
    # message finds it no longer "uploaded" and returns.
    version_process(version_id=version_id)
