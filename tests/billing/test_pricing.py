import pytest

from billing.models import ListingTerms, PriceOption
from billing.services import listing_terms_set, price_option_add
from config.api_errors import ApplicationError
from tests.support.factories import rental_price

pytestmark = pytest.mark.django_db


def _refused(listing, actor, **fields) -> ApplicationError:
    with pytest.raises(ApplicationError) as refused:
        price_option_add(listing=listing, actor=actor, **fields)
    return refused.value


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (0, "more than zero"),
        (-500, "more than zero"),
        (49, "lowest price is 50"),
        (10**9, "highest price"),
        ("12.50", "whole number"),
        (12.5, "whole number"),
        ("lots", "whole number"),
    ],
)
def test_it_refuses_zero_negative_absurd_and_fractional_prices(publisher, listing, amount, message):
    error = _refused(listing, publisher.user, kind="purchase", amount=amount)
    assert error.field == "amount"
    assert message in error.message
    assert not PriceOption.objects.exists()


@pytest.mark.parametrize(
    ("tokens", "days", "field"),
    [
        (0, 30, "tokens"),
        (-5, 30, "tokens"),
        (10**12, 30, "tokens"),
        (10_000, 0, "days"),
        (10_000, 99_999, "days"),
    ],
)
def test_it_refuses_rental_packs_with_absurd_tokens_or_days(
    publisher, listing, tokens, days, field
):
    error = _refused(listing, publisher.user, kind="rental", amount=500, tokens=tokens, days=days)
    assert error.field == field


def test_a_new_purchase_price_replaces_the_active_one(publisher, listing):
    first = price_option_add(listing=listing, actor=publisher.user, kind="purchase", amount=1000)
    second = price_option_add(listing=listing, actor=publisher.user, kind="purchase", amount="2000")
    first.refresh_from_db()
    assert (first.active, second.active, second.amount) == (False, True, 2000)


def test_rental_packs_may_be_several_but_not_identical(publisher, listing):
    price_option_add(
        listing=listing, actor=publisher.user, kind="rental", amount=500, tokens=10_000, days=30
    )
    price_option_add(
        listing=listing, actor=publisher.user, kind="rental", amount=900, tokens=20_000, days=30
    )
    error = _refused(listing, publisher.user, kind="rental", amount=700, tokens=10_000, days=30)
    assert "already has a pack" in error.message
    assert PriceOption.objects.filter(kind="rental", active=True).count() == 2


def test_only_the_listing_publisher_can_price_it(other_user, listing):
    error = _refused(listing, other_user, kind="purchase", amount=1000)
    assert error.status == 403


def test_licence_text_is_stored_with_its_hash_and_removed_when_empty(publisher, listing):
    terms = listing_terms_set(listing=listing, actor=publisher.user, text="Use it kindly.\r\n")
    assert terms.text == "Use it kindly."
    assert len(terms.text_sha256) == 64
    assert listing_terms_set(listing=listing, actor=publisher.user, text="  ") is None
    assert not ListingTerms.objects.filter(listing=listing).exists()


# --- the pricing page ---------------------------------------------------------------


def test_the_publisher_adds_a_rental_pack_on_the_pricing_page(client, publisher, listing):
    client.force_login(publisher.user)
    response = client.post(
        f"/billing/listings/{listing.pk}/pricing/",
        {
            "add_price": "1",
            "price-kind": "rental",
            "price-amount": "750",
            "price-tokens": "50000",
            "price-days": "14",
        },
        follow=True,
    )
    assert "Price added." in response.content.decode()
    option = PriceOption.objects.get(listing=listing)
    assert (option.kind, option.amount, option.tokens, option.days) == ("rental", 750, 50_000, 14)
    assert "$7.50" in response.content.decode()


def test_the_pricing_page_shows_clear_messages_for_bad_prices(client, publisher, listing):
    client.force_login(publisher.user)
    response = client.post(
        f"/billing/listings/{listing.pk}/pricing/",
        {"add_price": "1", "price-kind": "purchase", "price-amount": "0"},
    )
    assert response.status_code == 200
    assert "The price must be more than zero." in response.content.decode()
    assert not PriceOption.objects.exists()


def test_the_pricing_page_is_for_the_publisher_and_staff_only(
    client, publisher, other_user, staff_user, listing
):
    url = f"/billing/listings/{listing.pk}/pricing/"
    assert client.get(url).status_code == 302  # anonymous → login
    client.force_login(other_user)
    assert client.get(url).status_code == 403
    assert (
        client.post(
            url, {"add_price": "1", "price-kind": "purchase", "price-amount": "900"}
        ).status_code
        == 403
    )
    client.force_login(staff_user)
    assert client.get(url).status_code == 200
    client.force_login(publisher.user)
    assert client.get(url).status_code == 200
    assert not PriceOption.objects.exists()


def test_a_publisher_withdraws_a_price_and_others_cannot(client, publisher, other_user, listing):
    option = rental_price(listing)
    url = f"/billing/listings/{listing.pk}/pricing/{option.pk}/withdraw/"
    client.force_login(other_user)
    assert client.post(url).status_code == 403
    option.refresh_from_db()
    assert option.active
    client.force_login(publisher.user)
    client.post(url)
    option.refresh_from_db()
    assert not option.active


def test_the_listing_page_shows_prices_and_buttons(client, user, publisher, listing):
    rental_price(listing, amount=500, tokens=100_000, days=30)
    url = f"/models/{publisher.slug}/{listing.slug}/"
    anonymous = client.get(url).content.decode()
    assert "$5.00" in anonymous and "Log in to rent" in anonymous
    client.force_login(user)
    customer = client.get(url).content.decode()
    assert "100,000 tokens" in customer and "/billing/checkout/" in customer
    assert "Edit pricing" not in customer
    client.force_login(publisher.user)
    assert "Edit pricing" in client.get(url).content.decode()
