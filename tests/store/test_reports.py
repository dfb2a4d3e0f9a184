"""Reports: signed-in visitors flag a listing; staff resolve or dismiss them."""

import pytest

from config.api_errors import ApplicationError
from store.models import Listing, ListingReport
from store.services import report_close, report_create
from tests.support.factories import published_listing

pytestmark = pytest.mark.django_db


@pytest.fixture
def listing():
    return published_listing(name="Reported model")


def report_url(listing):
    return f"/models/{listing.publisher.slug}/{listing.slug}/report/"


def test_a_signed_in_visitor_reports_a_listing_from_its_page(client, user, listing):
    client.force_login(user)
    assert 'data-testid="report-form"' in client.get(listing.get_absolute_url()).content.decode()

    response = client.post(
        report_url(listing),
        {"reason": "license", "text": "The card copies a non-commercial model."},
        follow=True,
    )

    assert "Thanks, staff will look at your report." in response.content.decode()
    report = ListingReport.objects.get()
    assert (report.listing, report.reporter, report.reason, report.status) == (
        listing,
        user,
        "license",
        "open",
    )


def test_anonymous_visitors_are_asked_to_log_in(client, listing):
    assert "to report a problem" in client.get(listing.get_absolute_url()).content.decode()
    response = client.post(report_url(listing), {"reason": "spam", "text": "Spam spam spam spam."})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert not ListingReport.objects.exists()


def test_a_report_needs_a_reason_and_some_words(user, listing):
    with pytest.raises(ApplicationError) as error:
        report_create(listing=listing, reporter=user, reason="bogus", text="Long enough text here.")
    assert error.value.field == "reason"
    with pytest.raises(ApplicationError) as error:
        report_create(listing=listing, reporter=user, reason="spam", text="bad")
    assert error.value.field == "text"


def test_one_open_report_per_visitor_and_listing(client, user, listing):
    client.force_login(user)
    client.post(report_url(listing), {"reason": "spam", "text": "This is an advert."})
    response = client.post(
        report_url(listing), {"reason": "spam", "text": "This is an advert."}, follow=True
    )
    assert "You already reported this listing" in response.content.decode()
    assert ListingReport.objects.count() == 1


def test_hidden_listings_cannot_be_reported_by_outsiders(client, user, listing):
    Listing.objects.filter(pk=listing.pk).update(status="pending")
    client.force_login(user)
    assert (
        client.post(
            report_url(listing), {"reason": "spam", "text": "This is an advert."}
        ).status_code
        == 404
    )


def test_staff_resolve_or_dismiss_open_reports_once(user, other_user, staff_user, listing):
    first = report_create(listing=listing, reporter=user, reason="spam", text="This is an advert.")
    second = report_create(
        listing=listing, reporter=other_user, reason="other", text="Looks fine, sorry actually."
    )

    resolved = report_close(
        report_id=first.pk, actor=staff_user, status="resolved", note="Card fixed."
    )
    dismissed = report_close(report_id=second.pk, actor=staff_user, status="dismissed")

    assert (resolved.status, resolved.resolved_by, resolved.resolution_note) == (
        "resolved",
        staff_user,
        "Card fixed.",
    )
    assert resolved.resolved_at is not None
    assert dismissed.status == "dismissed"
    with pytest.raises(ApplicationError) as error:
        report_close(report_id=first.pk, actor=staff_user, status="dismissed")
    assert error.value.code == "already_closed"


def test_non_staff_cannot_close_reports(user, publisher, listing):
    report = report_create(listing=listing, reporter=user, reason="spam", text="This is an advert.")
    for actor in (user, publisher.user, None):
        with pytest.raises(ApplicationError) as error:
            report_close(report_id=report.pk, actor=actor, status="resolved")
        assert error.value.status == 403
    report.refresh_from_db()
    assert report.status == "open"


def test_after_closing_the_visitor_may_report_again(user, staff_user, listing):
    report = report_create(listing=listing, reporter=user, reason="spam", text="This is an advert.")
    report_close(report_id=report.pk, actor=staff_user, status="dismissed")
    assert (
        report_create(
            listing=listing, reporter=user, reason="spam", text="Still an advert, really."
        ).status
        == "open"
    )
