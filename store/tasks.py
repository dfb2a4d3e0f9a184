"""Celery tasks of the store: thin, they take ids and call a service."""

from celery import shared_task

from store.publishing.services import version_process


@shared_task(name="store.version_process", queue="default", acks_late=True)
def version_process_task(version_id: int) -> None:
    # Idempotent: the service claims the version with a conditional UPDATE, so a redelivered
    # message finds it no longer "uploaded" and returns.
    version_process(version_id=version_id)
