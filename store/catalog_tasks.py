"""Periodic catalog upkeep (found by Celery's autodiscovery of ``catalog_tasks`` modules)."""

from celery import shared_task

from store.services import listing_usage_refresh


@shared_task(name="store.listing_usage_refresh", queue="default", ignore_result=True)
def listing_usage_refresh_task() -> None:
    listing_usage_refresh()
