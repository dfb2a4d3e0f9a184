"""A fixture pointing localstripe's signed webhooks at the live server for one test."""

import httpx
import pytest
from django.conf import settings


def _point_localstripe_webhook(base: str, url: str) -> None:
    httpx.post(
        f"{base}/_config/webhooks/gptstore",
        data={"url": url, "secret": settings.STRIPE_WEBHOOK_SECRET},
        headers={"Authorization": f"Bearer {settings.STRIPE_SECRET_KEY}"},
        timeout=10,
    ).raise_for_status()


@pytest.fixture(name="localstripe_webhook")
def localstripe_webhook_fixture(localstripe, live_server):
    """localstripe posts its signed events to the live server for this test only."""
    _point_localstripe_webhook(localstripe, live_server.url + "/billing/webhook/stripe/")
    yield live_server
    # Later tests must not receive stray events: send them nowhere (localstripe only logs it).
    _point_localstripe_webhook(localstripe, "http://127.0.0.1:9/")
