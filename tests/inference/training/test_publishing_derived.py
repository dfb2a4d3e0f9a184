"""Publishing a fine-tuned model as a listing: only its owner, an approved publisher, when the
base model's publisher allows it; the weights go through the normal upload checks into a
draft listing that shows its lineage, and a refusal leaves nothing behind."""

import pytest

from config.api_errors import ApplicationError
from inference.training.models import FineTunedModel
from inference.training.services import (
    derived_listing_create,
)
from store.models import Listing, ListingVersion
from store.publishing import storage
from store.publishing.services import version_process
from store.services import listing_transition
from tests.support.factories import UserFactory
from tests.support.fine_tuning import fine_tuned_model, trainable_listing

pytestmark = pytest.mark.django_db


def _fine_tuned(user, tiny_llama_dir, *, derived_publishable: bool) -> FineTunedModel:
    base = trainable_listing(
        tiny_llama_dir, price_per_mtok=0, derived_publishable=derived_publishable
    )
    return fine_tuned_model(user, base, suffix="answers")


def test_the_owner_publishes_a_fine_tuned_model_with_its_lineage(
    client, publisher, staff_user, tiny_llama_dir
):
    model = _fine_tuned(publisher.user, tiny_llama_dir, derived_publishable=True)
    base = model.base_listing
    client.force_login(publisher.user)
    job_page = client.get(f"/fine-tuning/jobs/{model.job.public_id}/").content.decode()
    assert f"/fine-tuning/models/{model.pk}/publish" in job_page

    response = client.post(
        f"/fine-tuning/models/{model.pk}/publish",
        {"name": "Paris answers", "slug": "paris-answers", "summary": "Always Paris."},
    )
    listing = Listing.objects.get(publisher=publisher, slug="paris-answers")
    assert response.status_code == 302
    assert response["Location"] == f"/publish/{listing.pk}/"
    assert listing.status == Listing.Status.DRAFT
    assert (listing.fine_tuned_from, listing.fine_tuned_from_version) == (base, model.base_version)
    assert (listing.license, listing.task) == (base.license, base.task)
    assert "Fine-tuned from" in listing.card_markdown

    # The weights are checked like any upload, then are the same bytes as the private model's.
    version = version_process(version_id=listing.versions.get().pk)
    assert version.status == ListingVersion.Status.READY, version.error_message
    published = {f.path: f.sha256 for f in version.files.all()}
    private = {f.path: f.sha256 for f in model.files.all()}
    assert published["model.safetensors"] == private["model.safetensors"]
    assert set(published) == set(private)

    lineage = f'Fine-tuned from <a href="/models/{base.publisher.slug}/{base.slug}/">'
    studio = client.get(f"/publish/{listing.pk}/").content.decode()
    assert lineage in studio and f"version {model.base_version.number}" in studio

    listing_transition(listing_id=listing.pk, to_status="pending", actor=publisher.user)
    client.force_login(staff_user)
    assert lineage in client.get("/curate/").content.decode()
    listing_transition(listing_id=listing.pk, to_status="approved", actor=staff_user)

    client.logout()
    page = client.get(listing.get_absolute_url()).content.decode()
    assert lineage in page
    base_page = client.get(base.get_absolute_url()).content.decode()
    assert "Fine-tuned from this model" in base_page and "Paris answers" in base_page
    detail = client.get(f"/api/catalog/listings/{publisher.slug}/paris-answers/").json()
    assert detail["fine_tuned_from"] == {
        "model_id": base.model_id,
        "version": model.base_version.number,
    }
    # The private model is untouched and still the owner's alone.
    assert FineTunedModel.objects.get(pk=model.pk).owner_id == publisher.user_id


def test_a_base_that_does_not_allow_it_refuses_and_leaves_nothing(
    client, publisher, tiny_llama_dir
):
    model = _fine_tuned(publisher.user, tiny_llama_dir, derived_publishable=False)
    listings = Listing.objects.count()
    client.force_login(publisher.user)
    page = client.get(f"/fine-tuning/jobs/{model.job.public_id}/").content.decode()
    assert "does not allow publishing models fine-tuned from it" in page
    assert f"/fine-tuning/models/{model.pk}/publish" not in page

    response = client.post(f"/fine-tuning/models/{model.pk}/publish", {"name": "Mine"})
    assert response.status_code == 200
    assert "does not allow publishing models fine-tuned from it" in response.content.decode()
    with pytest.raises(ApplicationError) as refused:
        derived_listing_create(actor=publisher.user, fine_tuned_model=model, name="Mine")
    assert (refused.value.code, refused.value.status) == ("derived_not_allowed", 403)
    assert Listing.objects.count() == listings


def test_a_customer_who_is_not_a_publisher_is_told_to_apply(client, user, tiny_llama_dir):
    model = _fine_tuned(user, tiny_llama_dir, derived_publishable=True)
    client.force_login(user)
    page = client.get(f"/fine-tuning/jobs/{model.job.public_id}/").content.decode()
    assert "Only approved publishers can publish models" in page
    with pytest.raises(ApplicationError) as refused:
        derived_listing_create(actor=user, fine_tuned_model=model, name="Mine")
    assert refused.value.code == "derived_not_allowed"


def test_someone_elses_fine_tuned_model_is_not_found(client, publisher, tiny_llama_dir):
    model = _fine_tuned(UserFactory(), tiny_llama_dir, derived_publishable=True)
    client.force_login(publisher.user)
    assert client.get(f"/fine-tuning/models/{model.pk}/publish").status_code == 404
    with pytest.raises(ApplicationError) as refused:
        derived_listing_create(actor=publisher.user, fine_tuned_model=model, name="Mine")
    assert refused.value.code == "derived_not_allowed"


def test_a_taken_slug_is_a_form_error_and_stages_nothing(client, publisher, tiny_llama_dir):
    model = _fine_tuned(publisher.user, tiny_llama_dir, derived_publishable=True)
    client.force_login(publisher.user)
    first = client.post(f"/fine-tuning/models/{model.pk}/publish", {"name": "Once", "slug": "once"})
    assert first.status_code == 302
    versions = ListingVersion.objects.count()
    again = client.post(
        f"/fine-tuning/models/{model.pk}/publish", {"name": "Twice", "slug": "once"}
    )
    assert again.status_code == 200
    assert "You already have a listing with this slug." in again.content.decode()
    assert Listing.objects.filter(publisher=publisher, slug="once").count() == 1
    assert ListingVersion.objects.count() == versions
    staged = storage.staging_dir(ListingVersion.objects.order_by("-pk").first().pk + 1)
    assert not staged.exists()
