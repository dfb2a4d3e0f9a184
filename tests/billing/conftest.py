import pytest

from billing.services import grant_create
from tests.billing.factories import ListingFactory


@pytest.fixture
def listing(publisher):
    return ListingFactory(publisher=publisher)


@pytest.fixture
def rent():
    """Gives a customer a rental pack (a staff grant writes the same rows as a sale)."""

    def give(user, listing, *, tokens=1000, days=30):
        return grant_create(
            user=user, listing=listing, actor=None, tokens=tokens, days=days
        ).quota_pack

    return give


def _point_localstripe_webhook(base: str, url: str) -> None:
    import httpx
    from django.conf import settings

    httpx.post(
        f"{base}/_config/webhooks/gptstore",
        data={"url": url, "secret": settings.STRIPE_WEBHOOK_SECRET},
        headers={"Authorization": f"Bearer {settings.STRIPE_SECRET_KEY}"},
        timeout=10,
    ).raise_for_status()


@pytest.fixture
def localstripe_webhook(localstripe, live_server):
    """localstripe posts its signed events to the live server for this test only."""
    _point_localstripe_webhook(localstripe, live_server.url + "/billing/webhook/stripe/")
    yield live_server
    # Later tests must not receive stray events: send them nowhere (localstripe only logs it).
    _point_localstripe_webhook(localstripe, "http://127.0.0.1:9/")
