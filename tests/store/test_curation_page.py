"""The curator page /curate/: review queue with processing reports, decisions, reports queue."""

import pytest

from store.models import Listing, ListingReport, ListingStatusChange
from store.services import report_create
from tests.support.factories import ListingFactory, ListingVersionFactory, published_listing

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending(publisher):
    listing = ListingFactory(
        publisher=publisher, name="Waiting model", status=Listing.Status.PENDING
    )
    ListingVersionFactory(
        listing=listing, processing_report={"generation": "Once upon a time", "sha256": "ok"}
    )
    return listing


def decide(client, listing, action, reason=""):
    return client.post(
        f"/curate/listings/{listing.pk}/", {"action": action, "reason": reason}, follow=True
    )


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/curate/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_customers_and_publishers_are_forbidden(client, user, publisher, pending):
    for person in (user, publisher.user):
        client.force_login(person)
        assert client.get("/curate/").status_code == 403
        assert decide(client, pending, "approve").status_code == 403
    pending.refresh_from_db()
    assert pending.status == "pending"


def test_staff_see_the_queue_with_the_latest_processing_report(client, staff_user, pending):
    published_listing(name="Already public")
    client.force_login(staff_user)
    queue = client.get("/curate/").content.decode()
    assert "Waiting model" in queue and "Once upon a time" in queue
    assert "Already public" not in queue


def test_staff_approve_from_the_queue(client, staff_user, pending):
    client.force_login(staff_user)
    body = decide(client, pending, "approve").content.decode()
    assert "Waiting model: approve done." in body
    assert "Nothing waiting for review." in body
    pending.refresh_from_db()
    assert pending.status == "approved"
    assert ListingStatusChange.objects.filter(
        listing=pending, actor=staff_user, to_status="approved"
    ).exists()


def test_staff_reject_with_a_reason_the_publisher_then_reads(
    client, staff_user, publisher, pending
):
    client.force_login(staff_user)
    decide(client, pending, "reject", "Say what data it was trained on.")
    pending.refresh_from_db()
    assert (pending.status, pending.rejection_reason) == (
        "rejected",
        "Say what data it was trained on.",
    )

    client.force_login(publisher.user)
    assert (
        "Say what data it was trained on."
        in client.get(pending.get_absolute_url()).content.decode()
    )


def test_a_rejection_without_reason_is_refused_with_a_message(client, staff_user, pending):
    client.force_login(staff_user)
    body = decide(client, pending, "reject", "").content.decode()
    assert "Say why the listing is rejected." in body
    pending.refresh_from_db()
    assert pending.status == "pending"


def test_staff_feature_unfeature_and_delist_a_public_listing(client, staff_user):
    listing = published_listing(name="Shiny")
    client.force_login(staff_user)
    decide(client, listing, "feature")
    listing.refresh_from_db()
    assert listing.featured
    assert "Shiny" in client.get("/").content.decode().split('data-testid="featured"')[1]
    decide(client, listing, "unfeature")
    listing.refresh_from_db()
    assert not listing.featured
    decide(client, listing, "delist", "Licence dispute")
    listing.refresh_from_db()
    assert listing.status == "delisted"


def test_a_pending_listing_cannot_be_featured(client, staff_user, pending):
    client.force_login(staff_user)
    assert (
        "Only approved listings can be featured."
        in decide(client, pending, "feature").content.decode()
    )
    pending.refresh_from_db()
    assert not pending.featured


def test_staff_work_through_the_reports_queue(client, staff_user, user, other_user):
    listing = published_listing(name="Flagged model")
    spam = report_create(listing=listing, reporter=user, reason="spam", text="Advert for a casino.")
    wrong = report_create(
        listing=listing, reporter=other_user, reason="misleading", text="Claims 7B, is 135M."
    )
    client.force_login(staff_user)

    queue = client.get("/curate/").content.decode()
    assert "Advert for a casino." in queue and "Claims 7B, is 135M." in queue

    client.post(f"/curate/reports/{spam.pk}/", {"action": "resolve", "note": "Card cleaned."})
    body = client.post(
        f"/curate/reports/{wrong.pk}/", {"action": "dismiss"}, follow=True
    ).content.decode()

    assert "No open reports." in body
    spam.refresh_from_db()
    wrong.refresh_from_db()
    assert (spam.status, spam.resolution_note, spam.resolved_by) == (
        "resolved",
        "Card cleaned.",
        staff_user,
    )
    assert wrong.status == ListingReport.Status.DISMISSED


def test_non_staff_cannot_close_reports_through_the_page(client, user):
    listing = published_listing()
    report = report_create(
        listing=listing, reporter=user, reason="spam", text="Advert for a casino."
    )
    client.force_login(user)
    assert client.post(f"/curate/reports/{report.pk}/", {"action": "resolve"}).status_code == 403
    report.refresh_from_db()
    assert report.status == "open"
