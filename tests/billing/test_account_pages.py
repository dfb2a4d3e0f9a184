import csv
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from billing.models import Order, QuotaLedgerEntry
from billing.services import (
    grant_create,
    order_fulfil,
    order_mark_refunded,
    order_refund,
    order_start,
    quota_hold,
    quota_settle,
)
from store.models import WeightFile
from tests.support.factories import (
    ListingFactory,
    downloadable_version,
    purchase_price,
    rental_price,
)

pytestmark = pytest.mark.django_db


def _sold(user, option) -> Order:
    order = order_start(user=user, price_option_id=option.pk)
    return order_fulfil(order_id=order.pk)


# --- quota -----------------------------------------------------------------------------


def test_the_quota_page_shows_balances_expiry_and_usage(client, user, listing, rent):
    rent(user, listing, tokens=5000, days=10)
    quota_hold(user=user, listing=listing, tokens=700, request_id="r1")
    quota_settle(request_id="r1", used_tokens=321)
    client.force_login(user)
    html = client.get("/billing/quota/").content.decode()
    assert listing.model_id in html
    assert "4,679" in html  # available
    assert "321 tokens used" in html
    assert 'id="usage-data"' in html
    assert "chart.umd.min.js" in html


def test_the_quota_page_shows_nobody_elses_packs(client, user, other_user, listing, rent):
    rent(other_user, listing, tokens=7777, days=10)
    client.force_login(user)
    html = client.get("/billing/quota/").content.decode()
    assert "7,777" not in html
    assert "No rental packs" in html
    client.logout()
    assert client.get("/billing/quota/").status_code == 302


# --- library ---------------------------------------------------------------------------


def test_your_models_lists_owned_models_only(client, user, other_user, listing):
    grant_create(user=user, listing=listing, actor=None, purchase=True)
    client.force_login(other_user)
    assert listing.name not in client.get("/billing/library/").content.decode()
    client.force_login(user)
    assert listing.name in client.get("/billing/library/").content.decode()


# --- earnings --------------------------------------------------------------------------


def test_publishers_see_their_earnings_net_of_the_platform_fee(client, user, publisher, listing):
    _sold(user, purchase_price(listing, amount=2000))
    _sold(user, rental_price(listing, amount=999))
    weight_file = downloadable_version(listing)
    WeightFile.objects.filter(pk=weight_file.pk).update(download_count=3)
    client.force_login(publisher.user)
    html = client.get("/billing/earnings/").content.decode()
    # 2000 → 1600 net; 999 → fee 199 (rounded down), 800 net.
    assert "$24.00" in html
    assert '<td data-testid="downloads">3</td>' in html
    assert 'id="earnings-data"' in html
    assert listing.name in html


def test_earnings_are_for_publishers_and_only_their_own(client, user, publisher, listing):
    other_listing = ListingFactory()
    _sold(user, purchase_price(other_listing, amount=5000))
    client.force_login(user)
    assert client.get("/billing/earnings/").status_code == 403
    assert client.get("/billing/earnings/payout.csv").status_code == 403
    client.force_login(publisher.user)
    html = client.get("/billing/earnings/").content.decode()
    assert "$40.00" not in html
    assert other_listing.name not in html
    client.logout()
    assert client.get("/billing/earnings/").status_code == 302


def test_the_payout_csv_lists_sales_refunds_and_the_total(client, user, publisher, listing):
    kept = _sold(user, rental_price(listing, amount=1000))
    refunded = _sold(user, purchase_price(listing, amount=3000))
    order_mark_refunded(order_id=refunded.pk)
    client.force_login(publisher.user)
    response = client.get("/billing/earnings/payout.csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert response["Content-Type"] == "text/csv"
    assert rows[0][:7] == ["date", "order", "model", "kind", "gross", "fee", "net"]
    kinds = sorted((row[1], row[3], row[6]) for row in rows[1:-1])
    assert kinds == sorted(
        [(kept.short_number, "sale", "8.00"), (refunded.short_number, "sale", "24.00"),
         (refunded.short_number, "refund", "-24.00")]
    )  # fmt: skip
    assert rows[-1][0] == "total" and rows[-1][6] == "8.00"


def test_the_payout_csv_can_be_limited_to_a_date_range(client, user, publisher, listing):
    _sold(user, purchase_price(listing, amount=3000))
    client.force_login(publisher.user)
    rows = list(
        csv.reader(
            io.StringIO(
                client.get(
                    "/billing/earnings/payout.csv?start=2000-01-01&end=2000-12-31"
                ).content.decode()
            )
        )
    )
    assert len(rows) == 1  # the header only


# --- grants ----------------------------------------------------------------------------


def test_the_grant_command_gives_a_rental_pack_with_grant_ledger_rows(user, listing):
    out = io.StringIO()
    call_command(
        "grant", user.email, listing.model_id, "--tokens", "50000", "--days", "30", stdout=out
    )
    order = Order.objects.get(user=user)
    assert (order.reason, order.amount, order.status) == ("grant", 0, "paid")
    entry = QuotaLedgerEntry.objects.get(pack__order=order)
    assert (entry.kind, entry.reason, entry.available_delta) == ("credit", "grant", 50_000)
    assert "50,000 tokens" in out.getvalue()


def test_the_grant_command_gives_a_purchase_once(user, listing):
    call_command("grant", user.email.upper(), listing.model_id, "--purchase", stdout=io.StringIO())
    assert user.entitlements.filter(revoked_at__isnull=True).count() == 1
    with pytest.raises(CommandError, match="already owns"):
        call_command("grant", user.email, listing.model_id, "--purchase", stdout=io.StringIO())


@pytest.mark.parametrize(
    "args",
    [
        ["nobody@example.com", "{model}", "--purchase"],
        ["{email}", "nope/nothing", "--purchase"],
        ["{email}", "{model}", "--tokens", "100"],
        ["{email}", "{model}", "--purchase", "--days", "3"],
    ],
)
def test_the_grant_command_refuses_bad_input(user, listing, args):
    filled = [a.format(email=user.email, model=listing.model_id) for a in args]
    with pytest.raises(CommandError):
        call_command("grant", *filled, stdout=io.StringIO())
    assert not Order.objects.exists()


def test_staff_grant_from_the_admin(client, staff_user, user, listing):
    client.force_login(staff_user)
    assert client.get("/admin/billing/order/grant/").status_code == 200
    response = client.post(
        "/admin/billing/order/grant/",
        {
            "email": user.email,
            "model_id": listing.model_id,
            "kind": "rental",
            "tokens": "1234",
            "days": "5",
        },
    )
    assert response.status_code == 302
    assert user.quota_packs.get().available == 1234


def test_customers_cannot_open_the_admin_grant_form(client, user, listing):
    client.force_login(user)
    response = client.post(
        "/admin/billing/order/grant/",
        {"email": user.email, "model_id": listing.model_id, "kind": "purchase"},
    )
    assert response.status_code == 302
    assert "/admin/login/" in response.url
    assert not Order.objects.exists()


def test_staff_refund_a_grant_from_the_admin_and_access_ends(
    client, staff_user, user, listing, rent
):
    pack = rent(user, listing, tokens=1000)
    client.force_login(staff_user)
    response = client.post(
        "/admin/billing/order/",
        {"action": "refund_orders", "_selected_action": [pack.order_id]},
        follow=True,
    )
    assert "1 order(s) refunded." in response.content.decode()
    pack.refresh_from_db()
    assert (pack.available, pack.order.status) == (0, "refunded")


def test_the_demo_grant_waits_for_the_demo_listing_and_is_made_once(staff_user):
    from accounts.demo import demo_accounts_ensure
    from accounts.models import PublisherProfile
    from billing.demo import demo_grants_ensure
    from billing.selectors import credit_balance, token_price_for

    demo_accounts_ensure()
    assert demo_grants_ensure() is None
    labs = PublisherProfile.objects.get(slug="gptstore-labs")
    smol = ListingFactory(publisher=labs, slug="smollm2-135m-instruct")

    first = demo_grants_ensure()
    assert demo_grants_ensure().pk == first.pk
    assert first.quota_pack.available == 200_000
    assert smol.price_options.filter(active=True).count() == 3
    price = token_price_for(listing=smol)
    assert (price.input_per_mtok, price.output_per_mtok, price.created_by) == (10, 20, labs.user)
    customer = first.user
    assert credit_balance(user=customer) == 500 * 1_000_000
    demo_grants_ensure()
    assert credit_balance(user=customer) == 500 * 1_000_000  # granted once

    # Once the grant is refunded (or expired), the next seed grants again.
    order_refund(order_id=first.pk, actor=staff_user)
    assert demo_grants_ensure().pk != first.pk
