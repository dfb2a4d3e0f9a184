"""Listing lifecycle: draft → pending → approved | rejected (fix, resubmit) → delisted, with its audit log."""

import pytest

from config.api_errors import ApplicationError
from store.models import Listing, ListingStatusChange, ListingVersion
from store.services import listing_can_submit, listing_transition, listing_update
from tests.support.factories import ListingFactory, ListingVersionFactory

pytestmark = pytest.mark.django_db

S = Listing.Status


@pytest.fixture
def draft(publisher):
    listing = ListingFactory(publisher=publisher, status=S.DRAFT)
    ListingVersionFactory(listing=listing)
    return listing


def move(listing, to_status, actor, reason=""):
    return listing_transition(
        listing_id=listing.pk, to_status=to_status, actor=actor, reason=reason
    )


def test_owner_submits_a_draft_and_the_audit_log_says_who_and_when(draft, publisher):
    listing = move(draft, S.PENDING, publisher.user)

    assert listing.status == S.PENDING
    change = ListingStatusChange.objects.get(listing=draft)
    assert (change.actor, change.from_status, change.to_status) == (
        publisher.user,
        "draft",
        "pending",
    )
    assert change.created_at is not None


def test_it_refuses_review_without_a_processed_version(publisher):
    listing = ListingFactory(publisher=publisher, status=S.DRAFT)
    ListingVersionFactory(listing=listing, status=ListingVersion.Status.PROCESSING)

    with pytest.raises(ApplicationError) as error:
        move(listing, S.PENDING, publisher.user)

    assert error.value.code == "no_ready_version"
    listing.refresh_from_db()
    assert listing.status == S.DRAFT
    assert not ListingStatusChange.objects.exists()


def test_another_user_cannot_submit_someone_elses_listing(draft, other_user):
    with pytest.raises(ApplicationError) as error:
        move(draft, S.PENDING, other_user)
    assert error.value.status == 403


def test_the_publisher_cannot_approve_their_own_listing(draft, publisher):
    move(draft, S.PENDING, publisher.user)
    with pytest.raises(ApplicationError) as error:
        move(draft, S.APPROVED, publisher.user)
    assert error.value.status == 403
    draft.refresh_from_db()
    assert draft.status == S.PENDING


def test_staff_approve_a_pending_listing_and_it_becomes_public(draft, publisher, staff_user):
    move(draft, S.PENDING, publisher.user)
    listing = move(draft, S.APPROVED, staff_user)

    assert listing.status == S.APPROVED and listing.is_public
    assert listing.approved_at is not None
    last = ListingStatusChange.objects.filter(listing=draft).first()
    assert (last.actor, last.from_status, last.to_status) == (staff_user, "pending", "approved")


def test_a_rejection_needs_a_reason(draft, publisher, staff_user):
    move(draft, S.PENDING, publisher.user)
    with pytest.raises(ApplicationError) as error:
        move(draft, S.REJECTED, staff_user, reason="   ")
    assert error.value.field == "reason"
    draft.refresh_from_db()
    assert draft.status == S.PENDING


def test_rejected_listing_is_fixed_and_resubmitted_and_the_reason_is_cleared(
    draft, publisher, staff_user, client
):
    move(draft, S.PENDING, publisher.user)
    move(draft, S.REJECTED, staff_user, reason="The card does not name the training data.")

    client.force_login(publisher.user)
    page = client.get(draft.get_absolute_url())
    assert "The card does not name the training data." in page.content.decode()

    listing_update(
        listing=Listing.objects.get(pk=draft.pk), card_markdown="Trained on public-domain books."
    )
    listing = move(draft, S.PENDING, publisher.user)
    assert listing.status == S.PENDING
    assert listing.rejection_reason == ""
    history = list(
        ListingStatusChange.objects.filter(listing=draft)
        .order_by("id")
        .values_list("to_status", "reason")
    )
    assert history == [
        ("pending", ""),
        ("rejected", "The card does not name the training data."),
        ("pending", ""),
    ]


def test_staff_delist_an_approved_listing_and_it_leaves_the_store(
    draft, publisher, staff_user, client
):
    move(draft, S.PENDING, publisher.user)
    move(draft, S.APPROVED, staff_user)
    assert client.get(draft.get_absolute_url()).status_code == 200

    move(draft, S.DELISTED, staff_user, reason="Licence dispute.")

    assert client.get(draft.get_absolute_url()).status_code == 404
    assert ListingStatusChange.objects.filter(
        listing=draft, to_status="delisted", reason="Licence dispute."
    ).exists()


def test_the_publisher_cannot_delist_or_relist_by_themselves(draft, publisher, staff_user):
    move(draft, S.PENDING, publisher.user)
    move(draft, S.APPROVED, staff_user)
    with pytest.raises(ApplicationError):
        move(draft, S.DELISTED, publisher.user)
    move(draft, S.DELISTED, staff_user)
    with pytest.raises(ApplicationError):
        move(draft, S.APPROVED, publisher.user)


def test_a_delisted_listing_can_be_relisted_by_staff_or_resubmitted_by_its_publisher(
    draft, publisher, staff_user
):
    move(draft, S.PENDING, publisher.user)
    move(draft, S.APPROVED, staff_user)
    move(draft, S.DELISTED, staff_user)
    assert move(draft, S.PENDING, publisher.user).status == S.PENDING


def test_the_owner_may_withdraw_a_pending_listing(draft, publisher):
    move(draft, S.PENDING, publisher.user)
    assert move(draft, S.DRAFT, publisher.user).status == S.DRAFT


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (S.DRAFT, S.APPROVED),
        (S.DRAFT, S.REJECTED),
        (S.APPROVED, S.PENDING),
        (S.REJECTED, S.APPROVED),
        (S.DRAFT, S.DELISTED),
    ],
)
def test_it_refuses_transitions_outside_the_lifecycle(publisher, staff_user, start, target):
    listing = ListingFactory(publisher=publisher, status=start)
    ListingVersionFactory(listing=listing)
    with pytest.raises(ApplicationError) as error:
        move(listing, target, staff_user, reason="because")
    assert error.value.code == "invalid_transition"
    assert error.value.status == 409
    listing.refresh_from_db()
    assert listing.status == start
    assert not ListingStatusChange.objects.filter(listing=listing).exists()


def test_anonymous_actions_are_refused(draft):
    with pytest.raises(ApplicationError) as error:
        move(draft, S.PENDING, None)
    assert error.value.status == 403


@pytest.mark.parametrize(
    ("status", "submittable"),
    [
        ("draft", True),
        ("rejected", True),
        ("delisted", True),
        ("pending", False),
        ("approved", False),
    ],
)
def test_the_studio_offers_to_submit_only_what_the_lifecycle_allows(status, submittable):
    listing = ListingFactory(status=status)
    processing = ListingVersionFactory(listing=listing, status=ListingVersion.Status.PROCESSING)
    assert listing_can_submit(listing=listing, versions=[processing]) is False
    ready = ListingVersionFactory(listing=listing, number=processing.number + 1)
    assert listing_can_submit(listing=listing, versions=[processing, ready]) is submittable
