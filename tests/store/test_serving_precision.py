"""A version's serving precision is chosen at upload, measured against float32 while the
version is processed, shown to the publisher, the curators and customers, fixed once the
version is ready, and carried to the worker with every request for it."""

import pytest
from django.urls import reverse

from config.api_errors import ApplicationError
from inference.engine.packing import bf16_supported
from store.models import ListingVersion
from store.models.version import ImmutableVersion
from store.publishing.services import version_create, version_process
from tests.support.models import build_model_folder
from tests.support.uploads import folder_uploads, upload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    return build_model_folder(
        tmp_path_factory.mktemp("models") / "llama", kind="llama", chat_template=True
    )


def test_an_int8_upload_is_measured_against_float32_and_the_publisher_reads_the_cost(
    owner_client, listing, llama
):
    response = upload(owner_client, listing, folder_uploads(llama), serving_precision="int8")
    assert response.status_code == 302
    version = ListingVersion.objects.get(listing=listing)
    assert version.serving_precision == "int8"

    version = version_process(version_id=version.pk)

    assert version.status == "ready", version.error_message
    check = version.processing_report["precision"]
    assert check["precision"] == "int8"
    if bf16_supported():
        assert check["measured"] is True
        assert check["answers"] == 3 and 0 <= check["identical_answers"] <= 3
        assert 0 <= check["agreeing_tokens"] <= check["tokens"] <= 3 * 24
        assert check["perplexity_float32"] > 1 and check["perplexity"] > 1
        expected_change = (check["perplexity"] / check["perplexity_float32"] - 1) * 100
        assert check["perplexity_change_percent"] == pytest.approx(expected_change, abs=0.02)
        shown = f"the first {check['agreeing_tokens']} of {check['tokens']} greedy tokens agree"
    else:
        assert check["measured"] is False
        shown = "serve this version in float32"
    page = owner_client.get(reverse("studio:listing", kwargs={"listing_id": listing.pk}))
    assert shown in page.content.decode()
    assert "int8" in page.content.decode()


def test_a_float32_upload_is_not_measured_and_says_float32(owner_client, listing, llama):
    upload(owner_client, listing, folder_uploads(llama))

    version = version_process(version_id=ListingVersion.objects.get(listing=listing).pk)

    assert version.status == "ready" and version.serving_precision == "float32"
    assert "precision" not in version.processing_report


def test_an_unknown_precision_is_a_form_error_and_stores_nothing(owner_client, listing, llama):
    response = upload(owner_client, listing, folder_uploads(llama), serving_precision="float8")

    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not ListingVersion.objects.filter(listing=listing).exists()


def test_the_service_refuses_an_unknown_precision_before_storing_anything(listing, llama, media):
    with pytest.raises(ApplicationError) as refused:
        version_create(
            listing=listing,
            created_by=listing.publisher.user,
            files=folder_uploads(llama),
            serving_precision="fp4",
            enqueue=False,
        )

    assert refused.value.code == "invalid_precision" and refused.value.status == 400
    assert not ListingVersion.objects.filter(listing=listing).exists()
    assert not (media / "uploads").exists() or not any((media / "uploads").iterdir())


def test_a_ready_versions_precision_never_changes(owner_client, listing, llama):
    upload(owner_client, listing, folder_uploads(llama), serving_precision="bfloat16")
    version_process(version_id=ListingVersion.objects.get(listing=listing).pk)
    version = ListingVersion.objects.get(listing=listing)
    assert version.status == "ready"

    version.serving_precision = "float32"
    with pytest.raises(ImmutableVersion):
        version.save()
    assert ListingVersion.objects.get(pk=version.pk).serving_precision == "bfloat16"
