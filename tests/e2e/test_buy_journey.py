"""A customer rents and buys a model in a real Chromium, paying on localstripe with a test card."""

import re
import time

import pytest

from billing.models import Order, StripeEvent
from tests.support.factories import (
    ListingFactory,
    UserFactory,
    downloadable_version,
    purchase_price,
    rental_price,
)

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CONTENT = b"tiny safetensors bytes " * 512


def log_in(page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.get_by_role("button", name="Log in").click()


def pay_with_card(page, number: str) -> None:
    # localstripe's card Element: plain inputs named by their placeholders.
    card = page.locator("#card-element")
    card.locator("input[placeholder=number]").fill(number)
    card.locator("input[placeholder=exp_month]").fill("12")
    card.locator("input[placeholder=exp_year]").fill("34")
    card.locator("input[placeholder=cvc]").fill("123")
    card.locator("input[placeholder=postal_code]").fill("10115")
    page.get_by_test_id("pay-button").click()


def test_a_customer_rents_buys_and_downloads_and_another_cannot_download(
    localstripe_webhook, browser, publisher, password
):
    base = localstripe_webhook.url
    listing = ListingFactory(publisher=publisher, name="Pocket GPT", slug="pocket-gpt")
    weight_file = downloadable_version(listing, content=CONTENT)
    rental_price(listing, amount=500, tokens=50_000, days=30)
    purchase_price(listing, amount=2500)
    customer = UserFactory(password=password)
    stranger = UserFactory(password=password)

    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    log_in(page, base, customer.email, password)

    # Rent a pack from the listing page.
    page.goto(f"{base}/models/{publisher.slug}/pocket-gpt/")
    page.get_by_test_id("price-rental").get_by_role("link", name="Rent").click()
    page.get_by_test_id("continue-to-payment").click()
    pay_with_card(page, "4000000000000341")  # declined
    assert page.get_by_role("alert").inner_text() == "Your card was declined."
    page.get_by_role("button", name="Try another card").click()
    page.get_by_test_id("continue-to-payment").click()
    pay_with_card(page, "4242424242424242")
    page.wait_for_url(re.compile(r"/billing/orders/[0-9a-f-]+/$"))
    assert "Payment received" in page.content()
    assert page.get_by_test_id("order-status").inner_text() == "Paid"

    page.goto(f"{base}/billing/quota/")
    assert page.get_by_test_id("pack-available").first.inner_text() == "50,000"
    page.goto(f"{base}/models/{publisher.slug}/pocket-gpt/")
    assert "50,000 tokens left" in page.get_by_test_id("rental-balance").inner_text()

    # Buy the model, then download its file.
    page.get_by_test_id("price-purchase").get_by_role("link", name="Buy").click()
    page.get_by_test_id("continue-to-payment").click()
    pay_with_card(page, "4242424242424242")
    page.wait_for_url(re.compile(r"/billing/orders/[0-9a-f-]+/$"))
    page.get_by_role("link", name="Download the model").click()
    link = page.get_by_test_id("download-link").first
    href = link.get_attribute("href")
    with page.expect_download() as download:
        link.click()
    assert open(download.value.path(), "rb").read() == CONTENT
    weight_file.refresh_from_db()
    assert weight_file.download_count == 1

    # localstripe's signed webhooks arrive too (about a second later) and grant nothing twice.
    deadline = time.monotonic() + 10
    while (
        StripeEvent.objects.filter(type="payment_intent.succeeded").count() < 2
        and time.monotonic() < deadline
    ):
        time.sleep(0.2)
    assert StripeEvent.objects.filter(type="payment_intent.succeeded").count() == 2
    assert StripeEvent.objects.filter(type="payment_intent.payment_failed").count() == 1
    assert Order.objects.filter(user=customer, status="paid").count() == 2
    assert Order.objects.filter(user=customer, status="failed").count() == 1
    assert customer.quota_packs.count() == 1 and customer.entitlements.count() == 1

    # Another customer with the very same link gets nothing.
    other = browser.new_context()
    other_page = other.new_page()
    log_in(other_page, base, stranger.email, password)
    refused = other_page.request.get(base + href)
    assert refused.status == 403
    assert CONTENT[:32] not in refused.body()
    anonymous_context = browser.new_context()
    anonymous = anonymous_context.request.get(base + href, max_redirects=0)
    assert anonymous.status == 302
    for each in (context, other, anonymous_context):
        each.close()


def test_a_card_asking_for_3d_secure_is_authenticated_then_paid(
    localstripe_webhook, browser, publisher, password
):
    base = localstripe_webhook.url
    listing = ListingFactory(publisher=publisher, name="Secure GPT", slug="secure-gpt")
    downloadable_version(listing)
    rental_price(listing, amount=300, tokens=10_000, days=7)
    customer = UserFactory(password=password)
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    log_in(page, base, customer.email, password)

    page.goto(f"{base}/models/{publisher.slug}/secure-gpt/")
    page.get_by_test_id("price-rental").get_by_role("link", name="Rent").click()
    page.get_by_test_id("continue-to-payment").click()
    pay_with_card(page, "4000002760003184")
    # localstripe's stand-in for the bank's 3-D Secure page.
    page.get_by_role("button", name="Complete authentication").click()
    page.wait_for_url(re.compile(r"/billing/orders/[0-9a-f-]+/$"))

    assert page.get_by_test_id("order-status").inner_text() == "Paid"
    assert customer.quota_packs.get().available == 10_000
    context.close()
