import re
from urllib.parse import urlsplit

import pytest
import stripe
from django.conf import settings

from billing.models import Order, TermsAcceptance
from billing.selectors import access_for
from billing.services import grant_create, listing_terms_set, order_start
from store.models import Listing
from tests.support.factories import purchase_price, rental_price
from tests.test_csp import directives

pytestmark = pytest.mark.django_db


def test_checkout_asks_for_the_licence_and_records_who_accepted_which_text(
    client, user, publisher, listing
):
    terms = listing_terms_set(listing=listing, actor=publisher.user, text="No military use.")
    option = purchase_price(listing)
    client.force_login(user)
    url = f"/billing/checkout/{option.pk}/"

    page = client.get(url).content.decode()
    refused = client.post(url, {})
    accepted = client.post(url, {"accept_terms": "on"})

    assert "No military use." in page
    assert "Accept the licence to continue." in refused.content.decode()
    order = Order.objects.get(user=user)
    assert accepted.url == f"/billing/orders/{order.number}/pay/"
    acceptance = TermsAcceptance.objects.get(user=user, listing=listing)
    assert (acceptance.text_sha256, acceptance.order) == (terms.text_sha256, order)


def test_double_submits_make_one_order(client, user, listing):
    option = rental_price(listing)
    client.force_login(user)
    first = client.post(f"/billing/checkout/{option.pk}/")
    second = client.post(f"/billing/checkout/{option.pk}/")
    assert first.url == second.url
    assert Order.objects.filter(user=user).count() == 1


def test_a_publisher_cannot_buy_their_own_model(client, publisher, listing):
    option = purchase_price(listing)
    client.force_login(publisher.user)
    response = client.post(f"/billing/checkout/{option.pk}/")
    assert "you cannot buy it" in response.content.decode()
    assert not Order.objects.exists()


def test_an_owner_buying_again_is_sent_to_their_models(client, user, listing):
    option = purchase_price(listing)
    grant_create(user=user, listing=listing, actor=None, purchase=True)
    client.force_login(user)
    response = client.post(f"/billing/checkout/{option.pk}/")
    assert response.url == "/billing/library/"
    assert Order.objects.filter(user=user).count() == 1


def test_models_not_on_sale_have_no_checkout(client, user, listing):
    option = purchase_price(listing)
    Listing.objects.filter(pk=listing.pk).update(status=Listing.Status.DELISTED)
    client.force_login(user)
    assert client.get(f"/billing/checkout/{option.pk}/").status_code == 404
    assert client.get("/billing/checkout/999999/").status_code == 404


def test_the_pay_page_loads_the_configured_stripe_js_with_the_intent(
    client, localstripe, user, listing
):
    order = order_start(user=user, price_option_id=purchase_price(listing).pk)
    client.force_login(user)
    response = client.get(f"/billing/orders/{order.number}/pay/")
    html = response.content.decode()
    order.refresh_from_db()
    assert f'src="{settings.STRIPE_JS_URL}"' in html
    # The Content Security Policy lets Stripe in on this page (and no other: tests/test_csp.py).
    stripe_js = "{0.scheme}://{0.netloc}".format(urlsplit(settings.STRIPE_JS_URL))
    policy = directives(response)
    assert policy["script-src"] == ["'self'", stripe_js]
    assert policy["frame-src"] == ["'self'", stripe_js, "https://hooks.stripe.com"]
    assert re.search(rf'data-client-secret="{order.payment_intent_id}_secret_\w+"', html)
    assert 'data-mode="token"' in html


def test_the_token_endpoint_pays_only_the_customers_own_order(
    client, localstripe, user, other_user, listing
):
    order = order_start(user=user, price_option_id=purchase_price(listing).pk)
    stripe.api_base = settings.STRIPE_API_BASE
    token = stripe.Token.create(
        card={"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        api_key=settings.STRIPE_SECRET_KEY,
    )
    url = f"/billing/orders/{order.number}/pay/token/"

    client.force_login(other_user)
    assert client.post(url, {"token": token.id}).status_code == 403
    client.force_login(user)
    answer = client.post(url, {"token": token.id}).json()

    assert answer["status"] == "succeeded"
    assert answer["redirect"] == f"/billing/orders/{order.number}/complete/"
    assert access_for(user=user, listing=listing).kind == "purchase"


def test_the_success_page_fulfils_when_the_webhook_is_late(client, localstripe, user, listing):
    order = order_start(user=user, price_option_id=rental_price(listing, tokens=4000).pk)
    client.force_login(user)
    client.get(f"/billing/orders/{order.number}/pay/")
    order.refresh_from_db()
    stripe.PaymentIntent.modify(order.payment_intent_id, payment_method="pm_card_visa")
    stripe.PaymentIntent.confirm(order.payment_intent_id)

    response = client.get(f"/billing/orders/{order.number}/complete/", follow=True)

    assert "Payment received" in response.content.decode()
    assert access_for(user=user, listing=listing).available_tokens == 4000


def test_orders_are_listed_for_their_customer_only(client, user, other_user, listing):
    mine = grant_create(user=user, listing=listing, actor=None, tokens=1000, days=3)
    theirs = grant_create(user=other_user, listing=listing, actor=None, tokens=2000, days=3)
    client.force_login(user)
    html = client.get("/billing/orders/").content.decode()
    assert mine.short_number in html
    assert theirs.short_number not in html


def test_a_receipt_is_shown_to_its_customer_and_staff_only(
    client, user, other_user, staff_user, listing
):
    order = order_start(user=user, price_option_id=purchase_price(listing, amount=1999).pk)
    Order.objects.filter(pk=order.pk).update(payment_intent_id="pi_x")
    from billing.services import order_fulfil

    order_fulfil(order_id=order.pk)
    url = f"/billing/orders/{order.number}/"

    assert client.get(url).status_code == 302
    client.force_login(other_user)
    assert client.get(url).status_code == 403
    client.force_login(staff_user)
    assert client.get(url).status_code == 200
    client.force_login(user)
    receipt = client.get(url).content.decode()
    assert "Receipt" in receipt and "$19.99" in receipt and "Print receipt" in receipt
    assert client.get("/billing/orders/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_a_declined_card_on_the_token_endpoint_offers_a_fresh_start(
    client, localstripe, user, listing
):
    option = purchase_price(listing)
    order = order_start(user=user, price_option_id=option.pk)
    stripe.api_base = settings.STRIPE_API_BASE
    token = stripe.Token.create(
        card={"number": "4000000000000341", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        api_key=settings.STRIPE_SECRET_KEY,
    )
    client.force_login(user)
    response = client.post(f"/billing/orders/{order.number}/pay/token/", {"token": token.id})

    assert response.status_code == 402
    assert response.json()["error"] == "Your card was declined."
    assert response.json()["retry_url"] == f"/billing/checkout/{option.pk}/"
    order.refresh_from_db()
    assert order.status == "failed"
    assert (
        "Your card was declined." in client.get(f"/billing/orders/{order.number}/").content.decode()
    )
