"""Catalog facts copied onto listings by PostgreSQL triggers: latest ready version, lowest price,
rating. Filters and sorts read them, so they must follow every write, whoever makes it."""

import pytest

from billing.models import PriceOption
from store.models import Listing, ListingVersion
from store.services import listing_update
from tests.support.factories import ListingFactory, ListingVersionFactory, ReviewFactory

pytestmark = [
    pytest.mark.django_db,
]


def fresh(listing):
    return Listing.objects.get(pk=listing.pk)


def test_a_version_becoming_ready_updates_format_and_size():
    listing = ListingFactory()
    version = ListingVersionFactory(
        listing=listing,
        status=ListingVersion.Status.PROCESSING,
        source_format="gguf",
        parameter_count=None,
    )
    assert (fresh(listing).ready_format, fresh(listing).ready_parameter_count) == ("", None)

    ListingVersion.objects.filter(pk=version.pk).update(status="ready", parameter_count=135_000_000)

    assert (fresh(listing).ready_format, fresh(listing).ready_parameter_count) == (
        "gguf",
        135_000_000,
    )


def test_a_newer_ready_version_wins_and_a_failed_one_does_not():
    listing = ListingFactory()
    ListingVersionFactory(listing=listing, number=1, source_format="gguf", parameter_count=1)
    ListingVersionFactory(listing=listing, number=2, source_format="safetensors", parameter_count=2)
    ListingVersionFactory(
        listing=listing, number=3, source_format="gguf", parameter_count=3, status="failed"
    )
    assert (fresh(listing).ready_format, fresh(listing).ready_parameter_count) == ("safetensors", 2)


def test_the_lowest_active_price_follows_price_changes():
    listing = ListingFactory()
    cheap = PriceOption.objects.create(
        listing=listing, kind="rental", amount=300, tokens=1000, days=7
    )
    PriceOption.objects.create(listing=listing, kind="purchase", amount=2000)
    assert fresh(listing).min_price == 300

    cheap.active = False
    cheap.save()
    assert fresh(listing).min_price == 2000
    PriceOption.objects.filter(listing=listing).update(active=False)
    assert fresh(listing).min_price is None


def test_the_rating_follows_reviews_even_written_directly():
    listing = ListingFactory()
    ReviewFactory(listing=listing, stars=5)
    review = ReviewFactory(listing=listing, stars=2)
    assert (fresh(listing).rating_average, fresh(listing).review_count) == (3.5, 2)
    review.delete()
    assert (fresh(listing).rating_average, fresh(listing).review_count) == (5.0, 1)


def test_saving_a_stale_listing_object_cannot_write_old_facts():
    listing = ListingFactory()
    stale = Listing.objects.get(pk=listing.pk)
    ListingVersionFactory(listing=listing, source_format="gguf")
    PriceOption.objects.create(listing=listing, kind="purchase", amount=999)

    listing_update(listing=stale, summary="Edited while the version was processing.")

    after = fresh(listing)
    assert (after.ready_format, after.min_price, after.summary) == (
        "gguf",
        999,
        "Edited while the version was processing.",
    )
