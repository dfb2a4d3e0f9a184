"""Publisher studio pages: who may open them (owner, staff) and who may not (other users,
anonymous, non-publishers); creating, editing, submitting and resubmitting a listing."""

import pytest
from django.urls import reverse

from store.models import Listing, ListingStatusChange
from store.services import listing_transition
from tests.support.factories import ListingVersionFactory, PublisherFactory
from tests.support.uploads import draft_listing

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


@pytest.fixture
def listing(publisher):
    return draft_listing(publisher, name="Owl Chat", summary="Answers like an owl.")


@pytest.fixture
def version(listing):
    return ListingVersionFactory(listing=listing, number=1)


def listing_pages(listing, version):
    return [
        reverse("studio:listing", kwargs={"listing_id": listing.pk}),
        reverse("studio:listing_edit", kwargs={"listing_id": listing.pk}),
        reverse("studio:upload", kwargs={"listing_id": listing.pk}),
        reverse("studio:version_progress", kwargs={"version_id": version.pk}),
    ]


def test_the_owner_opens_every_studio_page(client, publisher, listing, version):
    client.force_login(publisher.user)
    for url in listing_pages(listing, version):
        assert client.get(url).status_code == 200, url
    home = client.get(reverse("studio:home")).content.decode()
    assert "Owl Chat" in home


def test_staff_open_any_listings_studio_pages(client, staff_user, listing, version):
    client.force_login(staff_user)
    for url in listing_pages(listing, version):
        assert client.get(url).status_code == 200, url


def test_another_publisher_gets_404_and_does_not_see_the_listing(client, listing, version):
    other = PublisherFactory()
    client.force_login(other.user)
    for url in listing_pages(listing, version):
        assert client.get(url).status_code == 404, url
    assert (
        client.post(reverse("studio:submit", kwargs={"listing_id": listing.pk})).status_code == 404
    )
    assert "Owl Chat" not in client.get(reverse("studio:home")).content.decode()


def test_a_signed_in_non_publisher_is_sent_to_the_publisher_application(
    client, user, listing, version
):
    client.force_login(user)
    for url in [
        reverse("studio:home"),
        reverse("studio:listing_new"),
        *listing_pages(listing, version),
    ]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url == reverse("accounts:publisher_apply")


def test_anonymous_visitors_are_sent_to_log_in(client, listing, version):
    for url in [reverse("studio:home"), *listing_pages(listing, version)]:
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("accounts:login"))
    response = client.post(reverse("studio:upload", kwargs={"listing_id": listing.pk}), {})
    assert response.url.startswith(reverse("accounts:login"))


def test_a_publisher_creates_a_draft_listing(client, publisher):
    client.force_login(publisher.user)
    response = client.post(
        reverse("studio:listing_new"),
        {
            "name": "Haiku Writer",
            "slug": "",
            "summary": "Writes haiku.",
            "card_markdown": "# Haiku Writer\n\nFive, seven, five.",
            "task": "text-generation",
            "tags": "poetry, small",
            "license": "mit",
            "languages": "en, ja",
            "conversation_starters": "Write about rain\nWrite about snow",
        },
    )
    listing = Listing.objects.get(publisher=publisher)
    assert response.url == reverse("studio:upload", kwargs={"listing_id": listing.pk})
    assert (listing.slug, listing.status, listing.license) == ("haiku-writer", "draft", "mit")
    assert listing.tags == ["poetry", "small"]
    assert listing.conversation_starters == ["Write about rain", "Write about snow"]


def test_an_unknown_licence_or_duplicate_slug_shows_on_the_form(client, publisher, listing):
    client.force_login(publisher.user)
    response = client.post(
        reverse("studio:listing_new"),
        {"name": "Again", "slug": listing.slug, "task": "chat", "license": "mit"},
    )
    assert "already have a listing with this slug" in response.content.decode()
    response = client.post(
        reverse("studio:listing_new"), {"name": "X", "task": "chat", "license": "wtfpl"}
    )
    assert "Select a valid choice" in response.content.decode()


def test_the_owner_edits_the_listing_but_not_its_slug(client, publisher, listing):
    client.force_login(publisher.user)
    response = client.post(
        reverse("studio:listing_edit", kwargs={"listing_id": listing.pk}),
        {
            "name": "Owl Chat 2",
            "slug": "changed",
            "summary": "Wiser.",
            "task": "chat",
            "license": "apache-2.0",
        },
    )
    assert response.status_code == 302
    listing.refresh_from_db()
    assert (listing.name, listing.summary, listing.slug) == ("Owl Chat 2", "Wiser.", "owl-chat")


def test_submitting_needs_a_ready_version(client, publisher, listing):
    client.force_login(publisher.user)
    response = client.post(reverse("studio:submit", kwargs={"listing_id": listing.pk}), follow=True)
    assert "wait until a version is processed" in response.content.decode()
    listing.refresh_from_db()
    assert listing.status == "draft"


def test_submit_rejection_reason_and_resubmit(client, publisher, staff_user, listing, version):
    client.force_login(publisher.user)
    page = client.get(reverse("studio:listing", kwargs={"listing_id": listing.pk})).content.decode()
    assert 'data-testid="submit-for-review"' in page
    client.post(reverse("studio:submit", kwargs={"listing_id": listing.pk}))
    listing.refresh_from_db()
    assert listing.status == "pending"

    listing_transition(
        listing_id=listing.pk,
        to_status="rejected",
        actor=staff_user,
        reason="The card says nothing about limits.",
    )
    page = client.get(reverse("studio:listing", kwargs={"listing_id": listing.pk})).content.decode()
    assert "The card says nothing about limits." in page
    assert "Resubmit for review" in page

    client.post(reverse("studio:submit", kwargs={"listing_id": listing.pk}))
    listing.refresh_from_db()
    assert listing.status == "pending"
    changes = list(
        ListingStatusChange.objects.filter(listing=listing)
        .order_by("id")
        .values_list("from_status", "to_status")
    )
    assert changes == [("draft", "pending"), ("pending", "rejected"), ("rejected", "pending")]


def test_the_progress_endpoint_reports_a_versions_state(client, publisher, listing):
    version = ListingVersionFactory(
        listing=listing,
        number=1,
        status="processing",
        progress=40,
        progress_message="Checking the safetensors headers",
    )
    client.force_login(publisher.user)
    body = client.get(reverse("studio:version_progress", kwargs={"version_id": version.pk})).json()
    assert body == {
        "version": 1,
        "status": "processing",
        "progress": 40,
        "message": "Checking the safetensors headers",
        "error": "",
    }
    page = client.get(reverse("studio:listing", kwargs={"listing_id": listing.pk})).content.decode()
    assert "data-progress-url" in page and "40% · Checking the safetensors headers" in page


def test_the_owner_withdraws_a_pending_listing_and_others_cannot(
    client, publisher, listing, version
):
    client.force_login(publisher.user)
    client.post(reverse("studio:submit", kwargs={"listing_id": listing.pk}))
    page = client.get(reverse("studio:listing", kwargs={"listing_id": listing.pk})).content.decode()
    assert 'data-testid="withdraw"' in page

    other = PublisherFactory()
    client.force_login(other.user)
    assert (
        client.post(reverse("studio:withdraw", kwargs={"listing_id": listing.pk})).status_code
        == 404
    )
    listing.refresh_from_db()
    assert listing.status == "pending"

    client.force_login(publisher.user)
    client.post(reverse("studio:withdraw", kwargs={"listing_id": listing.pk}))
    listing.refresh_from_db()
    assert listing.status == "draft"
    assert ListingStatusChange.objects.filter(listing=listing, to_status="draft").count() == 1
