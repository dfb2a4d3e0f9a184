"""Pay per token on the pages: the publisher sets the price per token, the listing page
shows it, and the customer's credits page shows the balance, a low-balance notice and the
ledger."""

import pytest

from billing.selectors import token_price_for
from billing.services import credits_grant, credits_hold, credits_settle, token_price_set

pytestmark = pytest.mark.django_db


def test_the_publisher_sets_a_price_per_token_on_the_pricing_page(client, publisher, listing):
    client.force_login(publisher.user)
    url = f"/billing/listings/{listing.pk}/pricing/"
    refused = client.post(
        url,
        {"tokens-input_per_mtok": "-5", "tokens-output_per_mtok": "40", "set_token_price": "1"},
    )
    assert refused.status_code == 200
    assert "between 0 and 1000000 cents" in refused.content.decode()
    assert token_price_for(listing=listing) is None

    saved = client.post(
        url,
        {"tokens-input_per_mtok": "20", "tokens-output_per_mtok": "40", "set_token_price": "1"},
        follow=True,
    )
    page = saved.content.decode()
    assert "Price per token saved" in page
    assert "$0.20 / 1M input · $0.40 / 1M output" in page
    price = token_price_for(listing=listing)
    assert (price.input_per_mtok, price.output_per_mtok, price.created_by) == (
        20, 40, publisher.user,
    )  # fmt: skip


def test_another_customer_cannot_price_the_listing(client, user, listing):
    client.force_login(user)
    response = client.post(
        f"/billing/listings/{listing.pk}/pricing/",
        {"tokens-input_per_mtok": "1", "tokens-output_per_mtok": "1", "set_token_price": "1"},
    )
    assert response.status_code == 403
    assert token_price_for(listing=listing) is None


def test_the_listing_page_shows_the_price_per_token_or_free(client, publisher, listing):
    token_price_set(listing=listing, actor=publisher.user, input_per_mtok=20, output_per_mtok=40)
    url = f"/models/{listing.publisher.slug}/{listing.slug}/"
    assert "$0.20 / 1M input · $0.40 / 1M output" in client.get(url).content.decode()
    token_price_set(listing=listing, actor=publisher.user, input_per_mtok=0, output_per_mtok=0)
    page = client.get(url).content.decode()
    assert 'data-testid="price-per-token"' in page and ">Free<" in page


def test_the_credits_page_shows_balance_low_notice_and_history(
    client, user, listing, publisher, staff_user
):
    client.force_login(user)
    empty = client.get("/billing/credits/").content.decode()
    assert "$0.00" in empty and 'data-testid="low-balance"' in empty and "No credits yet." in empty

    price = token_price_set(
        listing=listing, actor=publisher.user, input_per_mtok=20, output_per_mtok=40
    )
    credits_grant(user=user, cents=500, actor=staff_user, reason="welcome credit")
    credits_hold(user=user, listing=listing, price=price, amount=10_000, request_id="r1")
    credits_settle(request_id="r1", prompt_tokens=10, completion_tokens=5)  # 400 µ¢

    page = client.get("/billing/credits/").content.decode()
    assert "$4.999996" in page  # $5.00 less 400 µ¢, every digit shown
    assert 'data-testid="low-balance"' not in page
    assert "welcome credit" in page and "Debit" in page and listing.model_id in page
    assert "-$0.000004 held" in page  # the debit took the held money


def test_catalog_cards_show_prices_per_token_and_free_models_can_be_filtered(client, publisher):
    from tests.support.factories import ListingFactory

    metered = ListingFactory(publisher=publisher, name="Metered model")
    free = ListingFactory(publisher=publisher, name="Free model")
    ListingFactory(publisher=publisher, name="Bought model")
    token_price_set(listing=metered, actor=publisher.user, input_per_mtok=20, output_per_mtok=40)
    token_price_set(listing=free, actor=publisher.user, input_per_mtok=0, output_per_mtok=0)

    page = client.get("/catalog/").content.decode()
    assert "$0.20 / 1M in · $0.40 / 1M out" in page
    assert 'data-testid="card-token-price">Free<' in page
    only_free = client.get("/catalog/", {"free": "on"}).content.decode()
    assert "Free model" in only_free
    assert "Metered model" not in only_free and "Bought model" not in only_free


def test_every_page_formats_money_with_the_one_formatter_and_its_currency():
    from billing.money import format_amount
    from billing.templatetags.billing_tags import money as billing_money
    from store.templatetags.catalog_tags import money as catalog_money

    for cents, currency in [(12345, "usd"), (1_000_001, "eur"), (500, "jpy"), (7, "chf")]:
        assert catalog_money(cents, currency) == billing_money(cents, currency)
        assert catalog_money(cents, currency) == format_amount(cents, currency)
    assert catalog_money(500, "jpy") == "500 JPY"  # no cents in yen
    assert catalog_money(99_999_999_999_999_999, "usd") == "$999,999,999,999,999.99"  # no float


def test_the_publisher_keeps_the_same_share_on_the_pricing_page_as_in_the_ledger(settings):
    from types import SimpleNamespace

    from billing.services.earnings import platform_fee
    from billing.templatetags.billing_tags import publisher_net

    settings.PLATFORM_FEE_PERCENT = 15
    option = SimpleNamespace(amount=999, currency="usd")
    assert platform_fee(999) == 149  # rounded down: the remainder is the publisher's
    assert publisher_net(option) == "$8.50"
