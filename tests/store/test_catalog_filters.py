"""Catalog filters and sorts: task, licence, format, size, price; newest, most used, rating, price."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import PriceOption
from inference.models import UsageRecord
from store.models import Listing, ListingVersion
from store.selectors import catalog_listings
from store.services import listing_usage_refresh
from tests.support.factories import (
    ListingFactory,
    ListingVersionFactory,
    ReviewFactory,
    published_listing,
)

pytestmark = pytest.mark.django_db


def names(queryset):
    return [listing.name for listing in queryset]


def use(listing, user, *, times=1, days_ago=0):
    for _ in range(times):
        record = UsageRecord.objects.create(
            request_id=uuid.uuid4().hex,
            user=user,
            listing=listing,
            access="purchase",
            prompt_tokens=5,
        )
        if days_ago:
            UsageRecord.objects.filter(pk=record.pk).update(
                created_at=timezone.now() - timedelta(days=days_ago)
            )


def price(listing, amount, kind="purchase", active=True):
    extra = {"tokens": 100_000, "days": 30} if kind == "rental" else {}
    return PriceOption.objects.create(
        listing=listing, kind=kind, amount=amount, active=active, **extra
    )


def test_it_filters_by_task_and_licence():
    published_listing(name="Coder", task="code", license="mit")
    published_listing(name="Chatter", task="chat", license="mit")
    published_listing(name="Apache coder", task="code", license="apache-2.0")

    assert names(catalog_listings(task="code", sort="newest")) == ["Apache coder", "Coder"]
    assert names(catalog_listings(task="code", license="mit")) == ["Coder"]


def test_the_format_filter_looks_at_the_latest_ready_version():
    converted = ListingFactory(name="Was GGUF, now safetensors")
    ListingVersionFactory(listing=converted, number=1, source_format="gguf")
    ListingVersionFactory(listing=converted, number=2, source_format="safetensors")
    still_gguf = ListingFactory(name="GGUF with a failed upload")
    ListingVersionFactory(listing=still_gguf, number=1, source_format="gguf")
    ListingVersionFactory(
        listing=still_gguf,
        number=2,
        source_format="safetensors",
        status=ListingVersion.Status.FAILED,
    )

    assert names(catalog_listings(source_format="gguf")) == ["GGUF with a failed upload"]
    assert names(catalog_listings(source_format="safetensors")) == ["Was GGUF, now safetensors"]


def test_it_filters_by_size_bucket():
    published_listing(name="Tiny", version__parameter_count=135_000_000)
    published_listing(name="Small", version__parameter_count=1_700_000_000)
    published_listing(name="Medium", version__parameter_count=7_000_000_000)
    published_listing(name="Large", version__parameter_count=70_000_000_000)

    assert names(catalog_listings(size="tiny")) == ["Tiny"]
    assert names(catalog_listings(size="small")) == ["Small"]
    assert names(catalog_listings(size="medium")) == ["Medium"]
    assert names(catalog_listings(size="large")) == ["Large"]
    assert len(catalog_listings(size="nonsense")) == 4


def test_it_filters_by_the_lowest_active_price_in_cents():
    cheap, dear, unpriced = (
        published_listing(name="Cheap"),
        published_listing(name="Dear"),
        published_listing(name="Unpriced"),
    )
    price(cheap, 500)
    price(dear, 5000)
    price(dear, 100, active=False)  # off sale: does not make it cheap

    assert names(catalog_listings(price_max=1000)) == ["Cheap"]
    assert names(catalog_listings(price_min=1000)) == ["Dear"]
    assert names(catalog_listings(price_min=100, price_max=100_000, sort="price")) == [
        "Cheap",
        "Dear",
    ]
    assert unpriced.name in names(catalog_listings())


def test_price_sort_puts_unpriced_listings_last():
    first, second = published_listing(name="B"), published_listing(name="A")
    published_listing(name="Unpriced")
    price(first, 900)
    price(second, 300, kind="rental")
    assert names(catalog_listings(sort="price")) == ["A", "B", "Unpriced"]


def test_newest_sort_orders_by_approval_time():
    old = published_listing(name="Old")
    Listing.objects.filter(pk=old.pk).update(approved_at=timezone.now() - timedelta(days=3))
    published_listing(name="New")
    assert names(catalog_listings(sort="newest")) == ["New", "Old"]


def test_most_used_sort_counts_only_the_last_seven_days(user):
    busy = published_listing(name="Busy")
    quiet = published_listing(name="Quiet")
    once_busy = published_listing(name="Once busy")
    use(busy, user, times=3)
    use(quiet, user, times=1)
    use(once_busy, user, times=10, days_ago=9)

    assert listing_usage_refresh() == 2

    ordered = list(catalog_listings(sort="most_used"))
    assert [listing.name for listing in ordered] == ["Busy", "Quiet", "Once busy"]
    assert [listing.recent_uses for listing in ordered] == [3, 1, 0]


def test_the_usage_refresh_forgets_usage_older_than_a_week(user):
    listing = published_listing(name="Fading")
    use(listing, user, times=2)
    listing_usage_refresh()
    UsageRecord.objects.update(created_at=timezone.now() - timedelta(days=8))

    assert listing_usage_refresh() == 1
    listing.refresh_from_db()
    assert listing.recent_uses == 0
    assert listing_usage_refresh() == 0  # nothing changed, nothing written


def test_rating_sort_puts_unrated_listings_last():
    published_listing(name="Unrated")
    good = published_listing(name="Good")
    fine = published_listing(name="Fine")
    for stars in (5, 5, 4):
        ReviewFactory(listing=good, stars=stars)
    for stars in (3, 4):
        ReviewFactory(listing=fine, stars=stars)
    assert names(catalog_listings(sort="rating")) == ["Good", "Fine", "Unrated"]


def test_without_a_query_featured_listings_come_first():
    published_listing(name="Plain")
    published_listing(name="Star", featured=True)
    assert names(catalog_listings())[0] == "Star"


def test_the_catalog_page_applies_filters_from_the_query_string(client):
    published_listing(name="Coder", task="code", card_markdown="Writes Python.")
    published_listing(name="Chatter", task="chat", card_markdown="Writes Python too.")

    body = client.get("/catalog/", {"q": "python", "task": "code"}).content.decode()

    assert "Coder" in body and "Chatter" not in body
    assert "1 model" in body


def test_the_catalog_page_ignores_an_invalid_price_and_says_why(client):
    listing = published_listing(name="Priced")
    price(listing, 1000)
    response = client.get("/catalog/", {"price_min": "lots", "price_max": "20"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "Enter an amount such as 5 or 4.99." in body
    assert "Priced" in body


def test_the_catalog_page_reads_prices_in_currency_units(client):
    cheap, dear = published_listing(name="Cheap one"), published_listing(name="Dear one")
    price(cheap, 499)
    price(dear, 2500)
    body = client.get("/catalog/", {"price_max": "4.99"}).content.decode()
    assert "Cheap one" in body and "Dear one" not in body
    assert "$4.99" in body


def test_the_catalog_paginates_and_keeps_filters_in_page_links(client):
    for n in range(14):
        published_listing(name=f"Coder {n:02d}", task="code")
    first = client.get(
        "/catalog/", {"task": "code", "per_page": "12", "sort": "newest"}
    ).content.decode()
    assert "Page 1 of 2" in first
    assert "task=code" in first and "page=2" in first
    second = client.get(
        "/catalog/", {"task": "code", "per_page": "12", "sort": "newest", "page": "2"}
    ).content.decode()
    assert "Coder 01" in second and "Coder 00" in second and "Coder 13" not in second


@pytest.mark.parametrize("per_page", ["12", "96"])
def test_a_catalog_page_takes_at_most_ten_queries_whatever_its_size(
    client, user, django_assert_max_num_queries, per_page
):
    for n in range(30):
        listing = published_listing(name=f"Model {n}", tags=["fast"])
        price(listing, 100 + n)
        use(listing, user)
    listing_usage_refresh()
    client.force_login(user)
    for params in (
        {"per_page": per_page},
        {"per_page": per_page, "q": "model", "sort": "most_used"},
        {
            "per_page": per_page,
            "size": "tiny",
            "format": "safetensors",
            "sort": "price",
            "price_max": "50",
        },
    ):
        with django_assert_max_num_queries(10):
            response = client.get("/catalog/", params)
        assert response.status_code == 200
        assert response.content.decode().count('data-testid="listing-card"') == min(
            30, int(per_page)
        )


def test_the_page_size_menu_shows_the_size_in_use(client):
    published_listing()
    assert '<option value="24" selected>' in client.get("/catalog/").content.decode()
    assert (
        '<option value="24" selected>' in client.get("/catalog/", {"q": "model"}).content.decode()
    )
    assert (
        '<option value="48" selected>'
        in client.get("/catalog/", {"per_page": "48"}).content.decode()
    )


def test_the_per_token_sort_puts_the_cheapest_first_and_unpriced_last(client):
    from billing.services import token_price_set

    def priced(name, input_per_mtok, output_per_mtok):
        listing = published_listing(name=name)
        token_price_set(
            listing=listing,
            actor=listing.publisher.user,
            input_per_mtok=input_per_mtok,
            output_per_mtok=output_per_mtok,
        )
        return listing

    published_listing(name="Bought only")
    priced("Dear", 300, 900)
    priced("Free", 0, 0)
    cheap = priced("Cheap", 20, 40)
    priced("Middle", 10, 40)
    # Only the newest price counts: "Cheap" was dearer than "Middle" before this one.
    token_price_set(listing=cheap, actor=cheap.publisher.user, input_per_mtok=5, output_per_mtok=5)

    assert names(catalog_listings(sort="token_price")) == [
        "Free", "Cheap", "Middle", "Dear", "Bought only",
    ]  # fmt: skip
    page = client.get("/catalog/", {"sort": "token_price"}).content.decode()
    assert "Cheapest per token" in page
    assert page.index("Free") < page.index("Dear") < page.index("Bought only")
