"""Home page shelves: featured, collections, trending (last 7 days of usage), newest."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from inference.models import UsageRecord
from store.models import Listing
from store.services import collection_add_listing, collection_create
from tests.support.factories import published_listing

pytestmark = pytest.mark.django_db


def section(body: str, testid: str) -> str:
    start = body.index(f'data-testid="{testid}"')
    return body[start : body.index("</section>", start)]


def use(listing, user, *, times=1, days_ago=0):
    for _ in range(times):
        record = UsageRecord.objects.create(
            request_id=uuid.uuid4().hex, user=user, listing=listing, access="rental"
        )
        if days_ago:
            UsageRecord.objects.filter(pk=record.pk).update(
                created_at=timezone.now() - timedelta(days=days_ago)
            )


def test_an_empty_store_says_so(client):
    body = client.get("/").content.decode()
    assert "No models are published yet." in body
    assert 'data-testid="featured"' not in body and 'data-testid="trending"' not in body


def test_featured_listings_are_shown_and_hidden_ones_never(client):
    published_listing(name="Star model", featured=True)
    published_listing(name="Plain model")
    fallen = published_listing(name="Fallen star", featured=True)
    Listing.objects.filter(pk=fallen.pk).update(status="delisted")

    body = client.get("/").content.decode()
    featured = section(body, "featured")
    assert "Star model" in featured and "Plain model" not in featured
    assert "Fallen star" not in body


def test_collections_appear_in_their_order_with_listings_in_theirs(client):
    small = collection_create(name="Small and fast", position=2)
    coding = collection_create(name="Coding helpers", position=1)
    a, b, c = (
        published_listing(name="Alpha"),
        published_listing(name="Bravo"),
        published_listing(name="Charlie"),
    )
    collection_add_listing(collection=coding, listing=b)
    collection_add_listing(collection=coding, listing=a)
    collection_add_listing(collection=small, listing=c)
    hidden = published_listing(name="Hidden draft")
    Listing.objects.filter(pk=hidden.pk).update(status="draft")
    collection_add_listing(collection=small, listing=hidden)

    body = client.get("/").content.decode()

    assert body.index("Coding helpers") < body.index("Small and fast")
    shelf = section(body, f"collection-{coding.slug}")
    assert shelf.index("Bravo") < shelf.index("Alpha")
    assert "135M" in shelf and "safetensors" in shelf  # cards carry the version's facts
    assert "Hidden draft" not in body


def test_adding_a_listing_twice_moves_it_instead_of_duplicating_it():
    collection = collection_create(name="Picks")
    a, b = published_listing(name="A"), published_listing(name="B")
    collection_add_listing(collection=collection, listing=a)
    collection_add_listing(collection=collection, listing=b)
    collection_add_listing(collection=collection, listing=a)
    assert [item.listing.name for item in collection.items.all()] == ["B", "A"]


def test_invisible_or_empty_collections_are_not_shown(client):
    collection_add_listing(
        collection=collection_create(name="Secret shelf", is_visible=False),
        listing=published_listing(),
    )
    collection_create(name="Empty shelf")
    body = client.get("/").content.decode()
    assert "Secret shelf" not in body and "Empty shelf" not in body


def test_trending_counts_usage_of_the_last_seven_days(client, user):
    hot, warm, old = (
        published_listing(name="Hot model"),
        published_listing(name="Warm model"),
        published_listing(name="Old hit"),
    )
    use(hot, user, times=3)
    use(warm, user, times=1)
    use(old, user, times=20, days_ago=8)
    hidden = published_listing(name="Hidden hit")
    use(hidden, user, times=50)
    Listing.objects.filter(pk=hidden.pk).update(status="delisted")

    trending = section(client.get("/").content.decode(), "trending")

    assert trending.index("Hot model") < trending.index("Warm model")
    assert "3 uses this week" in trending
    assert "Old hit" not in trending and "Hidden hit" not in trending


def test_newest_shows_the_latest_approvals_first(client):
    old = published_listing(name="Older model")
    Listing.objects.filter(pk=old.pk).update(approved_at=timezone.now() - timedelta(days=2))
    published_listing(name="Newer model")
    newest = section(client.get("/").content.decode(), "newest")
    assert newest.index("Newer model") < newest.index("Older model")


def test_the_home_page_takes_a_bounded_number_of_queries(
    client, user, django_assert_max_num_queries
):
    for n in range(3):
        collection = collection_create(name=f"Shelf {n}")
        for m in range(5):
            listing = published_listing(name=f"M{n}{m}", featured=True)
            collection_add_listing(collection=collection, listing=listing)
            use(listing, user)
    with django_assert_max_num_queries(8):
        assert client.get("/").status_code == 200
