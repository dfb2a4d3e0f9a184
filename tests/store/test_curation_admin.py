"""Curation in the Django admin: filters, search, bulk lifecycle actions, history, collections."""

import pytest

from store.models import Collection, Listing, ListingStatusChange, Review
from tests.support.factories import (
    ListingFactory,
    ListingVersionFactory,
    ReviewFactory,
    published_listing,
)

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/store/listing/"


@pytest.fixture
def admin_client(client, staff_user):
    client.force_login(staff_user)
    return client


def pending_listing(name, **fields):
    listing = ListingFactory(name=name, status=Listing.Status.PENDING, **fields)
    ListingVersionFactory(
        listing=listing, processing_report={"sample_output": "The quick brown fox"}
    )
    return listing


def act(client, action, listings, **extra):
    data = {"action": action, "_selected_action": [listing.pk for listing in listings], **extra}
    return client.post(CHANGELIST, data, follow=True)


def test_non_staff_cannot_open_the_admin(client, user):
    client.force_login(user)
    assert client.get(CHANGELIST).status_code == 302


def test_the_changelist_filters_and_searches(admin_client):
    pending_listing("Waiting coder", task="code")
    published_listing(name="Public chatter", task="chat", featured=True)

    assert (
        "Waiting coder"
        in admin_client.get(CHANGELIST, {"status__exact": "pending"}).content.decode()
    )
    assert (
        "Public chatter"
        not in admin_client.get(CHANGELIST, {"status__exact": "pending"}).content.decode()
    )
    assert (
        "Public chatter" in admin_client.get(CHANGELIST, {"featured__exact": "1"}).content.decode()
    )
    assert (
        "Waiting coder"
        not in admin_client.get(CHANGELIST, {"task__exact": "chat"}).content.decode()
    )
    assert "Waiting coder" in admin_client.get(CHANGELIST, {"q": "coder"}).content.decode()


def test_bulk_approve_writes_the_audit_log_and_reports_refusals(admin_client, staff_user):
    first, second = pending_listing("First"), pending_listing("Second")
    draft = ListingFactory(name="Draft one", status=Listing.Status.DRAFT)

    body = act(admin_client, "approve", [first, second, draft]).content.decode()

    assert "Now approved: 2 listing(s)." in body
    assert "Draft one: A draft listing cannot become approved." in body
    assert set(Listing.objects.filter(status="approved").values_list("name", flat=True)) == {
        "First",
        "Second",
    }
    assert ListingStatusChange.objects.filter(actor=staff_user, to_status="approved").count() == 2


def test_bulk_reject_asks_for_a_reason_first(admin_client):
    listing = pending_listing("Needs work")

    form = act(admin_client, "reject", [listing]).content.decode()
    assert "Reason the publisher will read" in form
    listing.refresh_from_db()
    assert listing.status == "pending"

    act(admin_client, "reject", [listing], apply="1", reason="Add an honest card.")
    listing.refresh_from_db()
    assert (listing.status, listing.rejection_reason) == ("rejected", "Add an honest card.")


def test_bulk_feature_unfeature_and_delist(admin_client):
    a, b = published_listing(name="A"), published_listing(name="B")
    act(admin_client, "feature", [a, b])
    assert Listing.objects.filter(featured=True).count() == 2
    act(admin_client, "unfeature", [a])
    assert list(Listing.objects.filter(featured=True).values_list("name", flat=True)) == ["B"]
    act(admin_client, "delist", [b])
    b.refresh_from_db()
    assert b.status == "delisted"


def test_the_change_page_shows_history_and_the_latest_processing_report(admin_client, staff_user):
    listing = pending_listing("Inspected")
    act(admin_client, "reject", [listing], apply="1", reason="Missing licence text.")

    body = admin_client.get(f"{CHANGELIST}{listing.pk}/change/").content.decode()

    assert "The quick brown fox" in body
    assert "Missing licence text." in body
    assert "Status history" in body


def test_status_cannot_be_edited_around_the_lifecycle(admin_client):
    listing = pending_listing("Sneaky")
    body = admin_client.get(f"{CHANGELIST}{listing.pk}/change/").content.decode()
    assert 'name="status"' not in body
    assert 'name="featured"' not in body


def test_collections_are_managed_with_ordered_items(admin_client):
    a, b = published_listing(name="Alpha"), published_listing(name="Bravo")
    response = admin_client.post(
        "/admin/store/collection/add/",
        {
            "name": "Coding helpers", "slug": "coding-helpers", "description": "", "position": "1", "is_visible": "on",
            "items-TOTAL_FORMS": "2", "items-INITIAL_FORMS": "0", "items-MIN_NUM_FORMS": "0", "items-MAX_NUM_FORMS": "1000",
            "items-0-position": "2", "items-0-listing": str(a.pk),
            "items-1-position": "1", "items-1-listing": str(b.pk),
        },
    )  # fmt: skip
    assert response.status_code == 302
    collection = Collection.objects.get(slug="coding-helpers")
    assert [item.listing.name for item in collection.items.all()] == ["Bravo", "Alpha"]
    home = admin_client.get("/").content.decode()
    assert home.index("Bravo") < home.index("Alpha")


def test_deleting_a_review_in_the_admin_updates_the_average(admin_client):
    listing = published_listing()
    review = ReviewFactory(listing=listing, stars=1)
    Listing.objects.filter(pk=listing.pk).update(rating_average=1.0, review_count=1)
    admin_client.post(f"/admin/store/review/{review.pk}/delete/", {"post": "yes"})
    assert not Review.objects.exists()
    listing.refresh_from_db()
    assert (listing.rating_average, listing.review_count) == (None, 0)
