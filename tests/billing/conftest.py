import pytest

from billing.services import grant_create
from tests.support.factories import ListingFactory


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
