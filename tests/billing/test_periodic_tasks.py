import time
from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import QuotaHold, QuotaPack
from billing.selectors import access_for
from billing.services import quota_hold
from billing.tasks import expire_quota_packs, release_stale_holds
from config.celery import app


def test_beat_runs_the_billing_upkeep_tasks():
    app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {"billing.release_stale_holds", "billing.expire_quota_packs"} <= scheduled
    assert {"billing.release_stale_holds", "billing.expire_quota_packs"} <= set(app.tasks)


@pytest.mark.django_db
def test_the_upkeep_tasks_release_dead_holds_and_expire_packs(user, other_user, listing, rent):
    rent(user, listing, tokens=1000)
    expired = rent(other_user, listing, tokens=500)
    quota_hold(user=user, listing=listing, tokens=300, request_id="dead")
    QuotaHold.objects.filter(request_id="dead").update(
        created_at=timezone.now() - timedelta(hours=1)
    )
    QuotaPack.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    assert release_stale_holds() == 1
    assert expire_quota_packs() == 1

    assert access_for(user=user, listing=listing).available_tokens == 1000
    expired.refresh_from_db()
    assert (expired.available, expired.closed_at is not None) == (0, True)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_releases_the_hold_of_a_request_that_died(celery_worker, user, listing, rent):
    rent(user, listing, tokens=1000)
    quota_hold(user=user, listing=listing, tokens=400, request_id="died")
    QuotaHold.objects.filter(request_id="died").update(
        created_at=timezone.now() - timedelta(hours=1)
    )

    release_stale_holds.delay()

    deadline = time.monotonic() + 20
    while QuotaHold.objects.get(request_id="died").status == "held" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert QuotaHold.objects.get(request_id="died").status == "released"
    assert access_for(user=user, listing=listing).available_tokens == 1000
