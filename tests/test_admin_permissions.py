"""Staff status opens the admin; every action and custom admin view also needs the
specific permission. A staff account with view rights only can look, not act."""

import pytest
from django.contrib.auth.models import Permission

from accounts.models import ApiKey, PublisherProfile
from billing.models import Order
from billing.services import grant_create, order_refund
from config.api_errors import ApplicationError
from store.models import Listing, ListingReport
from store.services import listing_transition
from tests.support.factories import (
    ApiKeyFactory,
    ListingFactory,
    ListingVersionFactory,
    PublisherFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def staff_with(*codenames):
    """A staff account (not a superuser) holding exactly these permissions."""
    staff = UserFactory(is_staff=True)
    for codename in codenames:
        app_label, name = codename.split(".")
        staff.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=name)
        )
    return staff


def act(client, url, action, objects):
    return client.post(url, {"action": action, "_selected_action": [o.pk for o in objects]})


@pytest.fixture
def granted_order(user, publisher):
    return grant_create(
        user=user, listing=ListingFactory(publisher=publisher), actor=None, purchase=True
    )


def test_staff_without_permissions_cannot_open_the_grant_page(client, user):
    client.force_login(staff_with())
    listing = ListingFactory()

    assert client.get("/admin/billing/order/grant/").status_code == 403
    response = client.post(
        "/admin/billing/order/grant/",
        {"email": user.email, "model_id": listing.model_id, "kind": "purchase"},
    )

    assert response.status_code == 403
    assert not Order.objects.exists()


def test_staff_with_view_rights_cannot_grant(client, user):
    client.force_login(staff_with("billing.view_order"))

    assert client.get("/admin/billing/order/grant/").status_code == 403
    assert "Grant access" not in client.get("/admin/billing/order/").content.decode()


def test_staff_with_add_order_can_grant(client, user):
    client.force_login(staff_with("billing.view_order", "billing.add_order"))
    listing = ListingFactory()

    response = client.post(
        "/admin/billing/order/grant/",
        {"email": user.email, "model_id": listing.model_id, "kind": "purchase"},
    )

    assert response.status_code == 302
    assert Order.objects.get().status == Order.Status.PAID


def test_staff_with_view_rights_cannot_refund(client, granted_order):
    client.force_login(staff_with("billing.view_order"))

    act(client, "/admin/billing/order/", "refund_orders", [granted_order])

    granted_order.refresh_from_db()
    assert granted_order.status == Order.Status.PAID


def test_the_refund_service_refuses_staff_without_the_permission(granted_order):
    with pytest.raises(ApplicationError) as refused:
        order_refund(order_id=granted_order.pk, actor=staff_with("billing.view_order"))

    assert refused.value.status == 403
    granted_order.refresh_from_db()
    assert granted_order.status == Order.Status.PAID


def test_staff_with_change_order_can_refund(client, granted_order):
    client.force_login(staff_with("billing.view_order", "billing.change_order"))

    act(client, "/admin/billing/order/", "refund_orders", [granted_order])

    granted_order.refresh_from_db()
    assert granted_order.status == Order.Status.REFUNDED


def test_staff_with_view_rights_cannot_approve_listings(client):
    listing = ListingFactory(status=Listing.Status.PENDING)
    ListingVersionFactory(listing=listing)
    staff = staff_with("store.view_listing")
    client.force_login(staff)

    for action in ("approve", "delist", "feature"):
        act(client, "/admin/store/listing/", action, [listing])

    listing.refresh_from_db()
    assert listing.status == Listing.Status.PENDING
    with pytest.raises(ApplicationError) as refused:
        listing_transition(listing_id=listing.pk, to_status="approved", actor=staff)
    assert refused.value.status == 403


def test_staff_with_view_rights_cannot_use_the_curator_page(client):
    listing = ListingFactory(status=Listing.Status.PENDING)
    ListingVersionFactory(listing=listing)
    client.force_login(staff_with("store.view_listing"))

    assert client.get("/curate/").status_code == 403
    client.post(f"/curate/listings/{listing.pk}/", {"action": "approve"})

    listing.refresh_from_db()
    assert listing.status == Listing.Status.PENDING


def test_staff_with_view_rights_cannot_close_reports(client, user):
    report = ListingReport.objects.create(
        listing=ListingFactory(), reporter=user, reason="spam", text="Spam."
    )
    client.force_login(staff_with("store.view_listingreport"))

    act(client, "/admin/store/listingreport/", "resolve", [report])

    report.refresh_from_db()
    assert report.status == ListingReport.Status.OPEN


def test_staff_with_view_rights_cannot_approve_publishers(client):
    profile = PublisherFactory(status=PublisherProfile.Status.PENDING, verified=False)
    client.force_login(staff_with("accounts.view_publisherprofile"))

    for action in ("approve", "approve_and_verify", "mark_verified"):
        act(client, "/admin/accounts/publisherprofile/", action, [profile])

    profile.refresh_from_db()
    assert profile.status == PublisherProfile.Status.PENDING
    assert not profile.verified


def test_staff_with_view_rights_cannot_revoke_keys(client, user):
    key, _ = ApiKeyFactory.issue(user=user)
    client.force_login(staff_with("accounts.view_apikey"))

    act(client, "/admin/accounts/apikey/", "revoke", [key])

    assert ApiKey.objects.get(pk=key.pk).revoked_at is None


def test_staff_with_change_publisherprofile_can_approve(client):
    profile = PublisherFactory(status=PublisherProfile.Status.PENDING, verified=False)
    client.force_login(
        staff_with("accounts.view_publisherprofile", "accounts.change_publisherprofile")
    )

    act(client, "/admin/accounts/publisherprofile/", "approve_and_verify", [profile])

    profile.refresh_from_db()
    assert profile.status == PublisherProfile.Status.APPROVED
    assert profile.verified


def test_staff_grant_credits_in_the_admin_only_with_the_grant_permission(client, user):
    from billing.models import CreditLedgerEntry
    from billing.selectors import credit_balance

    grant = {"email": user.email, "amount": "12.50", "reason": "Sorry for the outage"}
    client.force_login(staff_with("billing.view_creditaccount"))
    assert client.post("/admin/billing/creditaccount/grant/", grant).status_code == 403
    assert credit_balance(user=user) == 0

    granter = staff_with("billing.view_creditaccount", "billing.add_order")
    client.force_login(granter)
    assert "Grant credits" in client.get("/admin/billing/creditaccount/").content.decode()
    response = client.post("/admin/billing/creditaccount/grant/", grant)

    assert response.status_code == 302
    assert credit_balance(user=user) == 1250 * 1_000_000
    entry = CreditLedgerEntry.objects.get(kind="grant")
    assert (entry.reason, entry.created_by) == ("Sorry for the outage", granter)
    no_reason = client.post("/admin/billing/creditaccount/grant/", {**grant, "reason": " "})
    assert "This field is required" in no_reason.content.decode()


def test_staff_refund_topups_only_with_the_topup_permission(client, user, localstripe):
    from billing.models import CreditTopUp
    from billing.services import topup_pay_with_token, topup_start
    from tests.billing.test_stripe_payments import card_token

    topup = topup_start(user=user, cents=1000)
    topup_pay_with_token(topup=topup, token_id=card_token("4242424242424242"))

    client.force_login(staff_with("billing.view_credittopup"))
    act(client, "/admin/billing/credittopup/", "refund_topups", [topup])
    assert CreditTopUp.objects.get().status == "paid"

    client.force_login(staff_with("billing.view_credittopup", "billing.change_credittopup"))
    act(client, "/admin/billing/credittopup/", "refund_topups", [topup])
    assert CreditTopUp.objects.get().status == "refunded"
