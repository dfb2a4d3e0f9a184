"""The listing page: who may see it, and what it shows."""

import pytest

from store.models import Listing, ListingVersion
from tests.support.factories import (
    ListingFactory,
    ListingVersionFactory,
    WeightFileFactory,
    published_listing,
)

pytestmark = pytest.mark.django_db

HIDDEN = ["draft", "pending", "rejected", "delisted"]


@pytest.fixture
def own_listing(publisher):
    return published_listing(publisher=publisher, name="Owned model")


def hide(listing, status):
    Listing.objects.filter(pk=listing.pk).update(status=status)


def test_anyone_sees_an_approved_listing(client, own_listing):
    response = client.get(own_listing.get_absolute_url())
    assert response.status_code == 200
    assert "Owned model" in response.content.decode()


@pytest.mark.parametrize("status", HIDDEN)
def test_anonymous_visitors_get_404_for_hidden_listings(client, own_listing, status):
    hide(own_listing, status)
    assert client.get(own_listing.get_absolute_url()).status_code == 404


@pytest.mark.parametrize("status", HIDDEN)
def test_other_users_get_404_for_hidden_listings(client, own_listing, other_user, status):
    hide(own_listing, status)
    client.force_login(other_user)
    assert client.get(own_listing.get_absolute_url()).status_code == 404


@pytest.mark.parametrize("status", HIDDEN)
def test_the_owner_sees_their_hidden_listing_with_its_status(
    client, own_listing, publisher, status
):
    hide(own_listing, status)
    client.force_login(publisher.user)
    response = client.get(own_listing.get_absolute_url())
    assert response.status_code == 200
    assert 'data-testid="listing-status"' in response.content.decode()


@pytest.mark.parametrize("status", HIDDEN)
def test_staff_see_hidden_listings(client, own_listing, staff_user, status):
    hide(own_listing, status)
    client.force_login(staff_user)
    assert client.get(own_listing.get_absolute_url()).status_code == 200


def test_an_unknown_listing_is_404(client, own_listing):
    assert client.get(f"/models/{own_listing.publisher.slug}/no-such-model/").status_code == 404
    assert client.get(f"/models/nobody/{own_listing.slug}/").status_code == 404


def test_it_shows_versions_with_files_sizes_checksums_and_metadata(client, own_listing):
    body = client.get(own_listing.get_absolute_url()).content.decode()
    version = own_listing.versions.get()
    for file in version.files.all():
        assert file.path in body
        assert file.sha256 in body
    for text in (
        "LlamaForCausalLM",
        "135M",
        "8192",
        "49152",
        "float32",
        "Chat template",
        "513.1",
        "safetensors",
        "1.0\xa0KB",
    ):
        assert text.lower() in body.lower()


def test_it_shows_the_pricing_box_publisher_tags_and_starters(client, publisher):
    listing = published_listing(
        publisher=publisher,
        tags=["tiny", "english"],
        conversation_starters=["Write a haiku about tea"],
    )
    body = client.get(listing.get_absolute_url()).content.decode()
    assert 'data-testid="pricing-box"' in body
    assert publisher.display_name in body
    assert "tiny" in body and "english" in body
    assert "Write a haiku about tea" in body
    assert listing.model_id in body


def test_versions_in_progress_are_shown_to_the_owner_only(
    client, own_listing, publisher, other_user
):
    ListingVersionFactory(
        listing=own_listing, number=2, status=ListingVersion.Status.PROCESSING, progress=40,
        progress_message="computing checksums", processed_at=None,
    )  # fmt: skip
    assert "computing checksums" not in client.get(own_listing.get_absolute_url()).content.decode()
    client.force_login(other_user)
    assert "computing checksums" not in client.get(own_listing.get_absolute_url()).content.decode()
    client.force_login(publisher.user)
    body = client.get(own_listing.get_absolute_url()).content.decode()
    assert "computing checksums" in body and "Version 2" in body


def test_the_owner_and_staff_see_the_status_history_others_do_not(
    client, own_listing, publisher, staff_user, other_user
):
    assert (
        'data-testid="status-history"'
        not in client.get(own_listing.get_absolute_url()).content.decode()
    )
    client.force_login(other_user)
    assert (
        'data-testid="status-history"'
        not in client.get(own_listing.get_absolute_url()).content.decode()
    )
    for viewer in (publisher.user, staff_user):
        client.force_login(viewer)
        assert (
            'data-testid="status-history"'
            in client.get(own_listing.get_absolute_url()).content.decode()
        )


def test_the_page_renders_in_a_bounded_number_of_queries(
    client, user, django_assert_max_num_queries, publisher
):
    listing = published_listing(publisher=publisher)
    version = listing.versions.get()
    for n in range(20):
        WeightFileFactory(version=version, path=f"shard-{n}.safetensors")
    for n in range(5):  # "Fine-tuned from this model": one query for all their cards
        ListingFactory(name=f"Derived {n}", fine_tuned_from=listing)
    client.force_login(user)
    with django_assert_max_num_queries(16):
        page = client.get(listing.get_absolute_url())
    assert page.status_code == 200
    assert page.content.decode().count('data-testid="listing-card"') == 5


def test_the_publisher_page_lists_only_public_listings(client, publisher):
    published_listing(publisher=publisher, name="Public one")
    hidden = published_listing(publisher=publisher, name="Hidden one")
    hide(hidden, "pending")
    published_listing(name="Someone else's")

    body = client.get(f"/publishers/{publisher.slug}/").content.decode()

    assert publisher.display_name in body
    assert "Public one" in body
    assert "Hidden one" not in body and "Someone else" not in body


def test_unknown_or_unapproved_publishers_are_404(client, publisher):
    assert client.get("/publishers/nobody/").status_code == 404
    publisher.status = "pending"
    publisher.save()
    assert client.get(f"/publishers/{publisher.slug}/").status_code == 404


def test_the_owner_gets_a_link_to_the_studio_others_do_not(
    client, own_listing, publisher, other_user
):
    studio = f'href="/publish/{own_listing.pk}/"'
    assert studio not in client.get(own_listing.get_absolute_url()).content.decode()
    client.force_login(other_user)
    assert studio not in client.get(own_listing.get_absolute_url()).content.decode()
    client.force_login(publisher.user)
    assert studio in client.get(own_listing.get_absolute_url()).content.decode()
