"""Celery tasks of the store: thin, they take ids and call a service."""

from celery import shared_task

from store.publishing.services import VERSION_PROCESS_TASK, version_process
from store.services import listing_usage_refresh


# Converting a multi-GB GGUF outlasts the default 10-minute limit; past the soft limit the
# service records the version as failed and removes its partial files.
@shared_task(
    name=VERSION_PROCESS_TASK,
    queue="default",
    acks_late=True,
    soft_time_limit=1800,
    time_limit=1900,
    bind=True,
)
def version_process_task(self, version_id: int) -> None:
    # The service claims the version with a conditional UPDATE, so a duplicate message does
    # nothing; a message redelivered because its worker died resumes the version instead of
    # leaving it "processing" for ever.
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    version_process(version_id=version_id, resume=redelivered)


# Periodic catalog upkeep (beat: "store-refresh-recent-usage" in config/celery.py).
@shared_task(name="store.listing_usage_refresh", queue="default", ignore_result=True)
def listing_usage_refresh_task() -> None:
    listing_usage_refresh()
