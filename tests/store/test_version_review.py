"""New versions of approved listings go through review: until the curators approve one,
/v1 serves the latest approved version, the catalog and downloads show only approved ones,
and a pinned id (``publisher/listing@v2``) names an approved version or nothing. The
publisher sees each version's review and its usage."""

import json

import pytest

from config.api_errors import ApplicationError
from inference.models import UsageRecord
from store.models import Listing, ListingVersion
from store.publishing.services import version_create, version_process
from store.selectors import listing_for_model
from store.services import listing_transition, version_review
from tests.support.api_checks import admitted
from tests.support.factories import ListingFactory, UserFactory
from tests.support.servable import grant_purchase, servable_listing, servable_version

pytestmark = pytest.mark.django_db
R = ListingVersion.Review


@pytest.fixture
def listing(tiny_model_dirs):
    return servable_listing(tiny_model_dirs[True])


@pytest.fixture
def curator():
    return UserFactory(is_staff=True, is_superuser=True)


def _chat(client, secret, model):
    return client.post(
        "/v1/chat/completions",
        json.dumps({"model": model, "messages": [{"role": "user", "content": "Hi"}]}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )


def test_an_uploaded_version_of_an_approved_listing_waits_and_the_approved_one_is_served(
    listing, publisher, tiny_model_dirs, curator
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    files = [
        SimpleUploadedFile(path.name, path.read_bytes())
        for path in sorted(tiny_model_dirs[False].iterdir())
    ]
    version = version_create(listing=listing, created_by=listing.publisher.user, files=files)
    version = version_process(version_id=version.pk)
    assert (version.status, version.review) == (ListingVersion.Status.READY, R.AWAITING)

    assert listing_for_model(model_id=listing.model_id)[1].number == 1
    assert listing_for_model(model_id=f"{listing.model_id}@v2") == (None, None)
    assert listing_for_model(model_id=f"{listing.model_id}@v1")[1].number == 1

    approved = version_review(version_id=version.pk, approve=True, actor=curator)
    assert (approved.review, approved.reviewed_by) == (R.APPROVED, curator)
    assert listing_for_model(model_id=listing.model_id)[1].number == 2
    assert listing_for_model(model_id=f"{listing.model_id}@v1")[1].number == 1
    assert listing_for_model(model_id=f"{listing.model_id}@v2")[1].number == 2
    assert listing_for_model(model_id=f"{listing.model_id}@v3") == (None, None)
    assert Listing.objects.get(pk=listing.pk).ready_format == "safetensors"


def test_a_rejected_version_is_never_served_and_says_why(listing, tiny_model_dirs, curator, client):
    second = servable_version(listing, tiny_model_dirs[False], review=R.AWAITING)
    with pytest.raises(ApplicationError) as no_reason:
        version_review(version_id=second.pk, approve=False, actor=curator)
    assert no_reason.value.field == "reason"

    version_review(version_id=second.pk, approve=False, actor=curator, reason="Answers gibberish.")
    assert listing_for_model(model_id=listing.model_id)[1].number == 1
    assert listing_for_model(model_id=f"{listing.model_id}@v2") == (None, None)
    with pytest.raises(ApplicationError) as twice:
        version_review(version_id=second.pk, approve=True, actor=curator)
    assert (twice.value.code, twice.value.status) == ("already_reviewed", 409)

    client.force_login(listing.publisher.user)
    studio = client.get(f"/publish/{listing.pk}/").content.decode()
    assert "Rejected by review:</strong> Answers gibberish." in studio
    client.logout()
    public = client.get(listing.get_absolute_url()).content.decode()
    assert "Version 1" in public and "Version 2" not in public


def test_only_curators_with_the_permission_review_versions(listing, tiny_model_dirs, publisher):
    second = servable_version(listing, tiny_model_dirs[False], review=R.AWAITING)
    viewer = UserFactory(is_staff=True)
    for actor in (listing.publisher.user, publisher.user, viewer, None):
        with pytest.raises(ApplicationError) as refused:
            version_review(version_id=second.pk, approve=True, actor=actor)
        assert (refused.value.code, refused.value.status) == ("forbidden", 403)
    assert ListingVersion.objects.get(pk=second.pk).review == R.AWAITING


def test_approving_a_listing_approves_its_processed_versions(tiny_model_dirs, curator):
    listing = ListingFactory(status=Listing.Status.DRAFT)
    first = servable_version(listing, tiny_model_dirs[True], review=R.AWAITING)
    listing_transition(listing_id=listing.pk, to_status="pending", actor=listing.publisher.user)
    assert listing_for_model(model_id=listing.model_id) == (None, None)
    listing_transition(listing_id=listing.pk, to_status="approved", actor=curator)
    first.refresh_from_db()
    assert (first.review, first.reviewed_by) == (R.APPROVED, curator)
    assert listing_for_model(model_id=listing.model_id)[1] == first


def test_the_curator_page_lists_new_versions_and_decides_them(
    client, listing, tiny_model_dirs, curator
):
    second = servable_version(listing, tiny_model_dirs[False], review=R.AWAITING)
    client.force_login(curator)
    page = client.get("/curate/").content.decode()
    assert f"{listing.name}</a> version 2" in page and "served now: version 1" in page

    refused = client.post(f"/curate/versions/{second.pk}/", {"action": "reject"}, follow=True)
    assert "Say why the version is rejected." in refused.content.decode()
    assert ListingVersion.objects.get(pk=second.pk).review == R.AWAITING

    client.post(f"/curate/versions/{second.pk}/", {"action": "approve"})
    assert ListingVersion.objects.get(pk=second.pk).review == R.APPROVED
    assert "No new version waiting." in client.get("/curate/").content.decode()


def test_v1_admits_a_pinned_approved_version_and_refuses_an_unreviewed_one(
    client, user, listing, tiny_model_dirs, api_key_for, settings
):
    settings.INFERENCE_DEFAULT_QUEUE = "inference.unserved-in-tests"
    servable_version(listing, tiny_model_dirs[False], review=R.AWAITING)
    grant_purchase(user, listing)
    secret = api_key_for(user)[1]

    unreviewed = _chat(client, secret, f"{listing.model_id}@v2")
    assert unreviewed.status_code == 404
    assert unreviewed.json()["error"]["code"] == "model_not_found"
    assert _chat(client, secret, f"{listing.model_id}@v0").json()["error"]["code"] == (
        "model_not_found"
    )
    # Admitted: it gets as far as the queue, which no worker serves here.
    pinned = _chat(client, secret, f"{listing.model_id}@v1")
    assert admitted(pinned), pinned.content
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    models = client.get("/v1/models", **auth).json()
    assert [(m["id"], m["version"]) for m in models["data"]] == [(listing.model_id, 1)]
    card = client.get(f"/v1/models/{listing.model_id}@v1", **auth).json()
    assert (card["id"], card["version"]) == (f"{listing.model_id}@v1", 1)
    missing = client.get(f"/v1/models/{listing.model_id}@v2", **auth)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "model_not_found")


def test_the_studio_shows_each_versions_review_and_usage(
    client, user, listing, tiny_model_dirs, curator
):
    first = listing.versions.get()
    second = servable_version(listing, tiny_model_dirs[False], review=R.AWAITING)
    for index, tokens in enumerate((10, 30)):
        UsageRecord.objects.create(
            request_id=f"r{index}", user=user, listing=listing, version=first,
            access="purchase", prompt_tokens=tokens, completion_tokens=5,
        )  # fmt: skip
    client.force_login(listing.publisher.user)
    page = client.get(f"/publish/{listing.pk}/").content.decode()
    assert "Waiting for review: customers keep getting the version served now" in page
    assert "2 requests (0 failed) from 1 customer, 40 tokens in, 10 out" in page
    assert f"{listing.model_id}@v1" in page

    version_review(version_id=second.pk, approve=True, actor=curator)
    page = client.get(f"/publish/{listing.pk}/").content.decode()
    newest, oldest = page.index('data-testid="version-2"'), page.index('data-testid="version-1"')
    assert newest < page.index('data-testid="version-served"') < oldest
