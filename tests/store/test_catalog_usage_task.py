"""The periodic "recent usage" refresh runs in a real Celery worker, as beat schedules it."""

import time
import uuid

import pytest

from config.celery import app
from inference.models import UsageRecord
from store.models import Listing
from tests.support.factories import published_listing

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_beat_schedules_the_refresh_and_a_worker_runs_it(celery_worker, user):
    assert (
        app.conf.beat_schedule["store-refresh-recent-usage"]["task"]
        == "store.listing_usage_refresh"
    )
    listing = published_listing(name="Popular")
    for _ in range(4):
        UsageRecord.objects.create(
            request_id=uuid.uuid4().hex, user=user, listing=listing, access="purchase"
        )

    app.send_task("store.listing_usage_refresh", queue="default")

    deadline = time.monotonic() + 30
    while Listing.objects.get(pk=listing.pk).recent_uses != 4:
        assert time.monotonic() < deadline, "the worker did not refresh recent usage in 30 s"
        time.sleep(0.2)
